"""FlashSale.shards (issue 17): the buckets a sale's gate splits its stock into across a Redis
Cluster's masters; 1, the default, is the one bucket every sale had before."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sales', '0005_pipeline_salebuyer_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='flashsale',
            name='shards',
            field=models.PositiveSmallIntegerField(default=1, help_text='Redis shards (buckets) the gate splits the stock across, 1 to 16.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(16)]),
        ),
        migrations.AddConstraint(
            model_name='flashsale',
            constraint=models.CheckConstraint(condition=models.Q(('shards__gte', 1), ('shards__lte', 16)), name='sale_shards_1_to_16'),
        ),
    ]
