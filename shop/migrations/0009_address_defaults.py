"""Addresses stored before the address book: each customer's first address becomes its
default (as the first address of a new customer does), and the matching forms are made again
with today's rules, which read the district (`shop.addresses.street_line`). Stored rows have
no district, so their keys come out as they were and every match between them stays; only a
row whose stored key differs from today's rule is written."""

from django.db import migrations
from django.db.models import Min

CHUNK = 2000


def defaults_choose(apps, schema_editor):
    Address = apps.get_model("shop", "Address")
    firsts = Address.objects.values("customer").annotate(first=Min("pk")).values("first")
    Address.objects.filter(pk__in=firsts).update(is_default=True)


def keys_recompute(apps, schema_editor):
    from shop.addresses import building_normalize  # today's rules, as new addresses get them
    from shop.services import address_normalize

    Address = apps.get_model("shop", "Address")
    batch = []
    rows = Address.objects.only("line1", "city", "postcode", "district", "normalized",
                                "building")
    for address in rows.iterator(chunk_size=CHUNK):
        keys = {"line1": address.line1, "city": address.city, "postcode": address.postcode,
                "district": address.district}
        normalized = address_normalize(**keys)[:300]
        building = building_normalize(**keys)[:300]
        if (normalized, building) != (address.normalized, address.building):
            address.normalized, address.building = normalized, building
            batch.append(address)
        if len(batch) == CHUNK:
            Address.objects.bulk_update(batch, ["normalized", "building"])
            batch = []
    Address.objects.bulk_update(batch, ["normalized", "building"])


def defaults_forget(apps, schema_editor):
    apps.get_model("shop", "Address").objects.update(is_default=False)


class Migration(migrations.Migration):

    dependencies = [
        ("shop", "0008_address_book"),
    ]

    operations = [
        migrations.RunPython(defaults_choose, defaults_forget),
        migrations.RunPython(keys_recompute, migrations.RunPython.noop),
    ]
