"""Fewer indexes on shop_order for the pipeline (issue 15 (d)): every order it writes updates
each of them. On PostgreSQL four were redundant: the `varchar_pattern_ops` copies Django adds
beside a unique or indexed CharField (number, ticket, status; for LIKE 'prefix%', which no
query here uses: the admin's search is a LIKE '%...%' on UPPER()), and the user's own index,
which the (user, -created_at) one already serves. The uniqueness of number and ticket is
unchanged, as constraints; the new ones are built before the old ones are dropped. On a large
table the migration rebuilds the unique and the status indexes: run it between sales.
Reversible: backwards restores the fields and indexes as they were.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('shop', '0003_ticket_length'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='order',
            constraint=models.UniqueConstraint(fields=('number',), name='order_number_unique'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.UniqueConstraint(fields=('ticket',), name='order_one_per_ticket'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['status'], name='order_status'),
        ),
        migrations.AlterField(
            model_name='order',
            name='number',
            field=models.CharField(max_length=24),
        ),
        migrations.AlterField(
            model_name='order',
            name='status',
            field=models.CharField(choices=[('awaiting_payment', 'Awaiting payment'), ('awaiting_deposit', 'Awaiting deposit'), ('awaiting_balance', 'Awaiting balance'), ('paid', 'Paid'), ('shipped', 'Shipped'), ('delivered', 'Delivered'), ('cancelled', 'Cancelled'), ('expired', 'Expired'), ('forfeited', 'Forfeited'), ('refunded', 'Refunded')], max_length=20),
        ),
        migrations.AlterField(
            model_name='order',
            name='ticket',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name='order',
            name='user',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='orders', to=settings.AUTH_USER_MODEL),
        ),
    ]
