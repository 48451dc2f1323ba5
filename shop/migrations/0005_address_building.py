"""Each address's building (shop.addresses), for the addresses stored before it existed."""

from django.db import migrations, models


def buildings_fill(apps, schema_editor):
    from shop.addresses import building_normalize  # today's rule, as new addresses get it

    Address = apps.get_model("shop", "Address")
    batch = []
    for address in Address.objects.only("line1", "city", "postcode").iterator(chunk_size=2000):
        address.building = building_normalize(line1=address.line1, city=address.city,
                                              postcode=address.postcode)[:300]
        batch.append(address)
        if len(batch) == 2000:
            Address.objects.bulk_update(batch, ["building"])
            batch = []
    Address.objects.bulk_update(batch, ["building"])


class Migration(migrations.Migration):

    dependencies = [
        ("shop", "0004_pipeline_order_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="address",
            name="building",
            field=models.CharField(db_index=True, default="", editable=False, max_length=300),
        ),
        migrations.RunPython(buildings_fill, migrations.RunPython.noop),
    ]
