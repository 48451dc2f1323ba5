"""SaleBuyer without an index of its own on sale_id (issue 15 (d)): the unique (sale, user_id)
constraint leads with it, and every pipeline batch upserts a thousand buyers' rows, each
updating every index. Reversible: backwards recreates the index."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sales', '0004_sale_buyer'),
    ]

    operations = [
        migrations.AlterField(
            model_name='salebuyer',
            name='sale',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='buyers', to='sales.flashsale'),
        ),
    ]
