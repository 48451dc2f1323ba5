"""Reminder (issue 18): a shopper's "remind me" for a sale that has not opened, texted a few
minutes before it opens, once per opening."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sales', '0006_flashsale_shards'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Reminder',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('language', models.CharField(blank=True, max_length=8)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('claim', models.CharField(blank=True, editable=False, max_length=32)),
                ('claimed_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('sent_for', models.DateTimeField(blank=True, help_text='The opening time the text named.', null=True)),
                ('sale', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='reminders', to='sales.flashsale')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sale_reminders', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['id'],
                'constraints': [models.UniqueConstraint(fields=('sale', 'user'), name='one_reminder_per_account_and_sale')],
            },
        ),
    ]
