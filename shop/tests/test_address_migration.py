"""Addresses stored before the address book: after the migration each customer's first
address is its default, nobody has two, and every matching key is what it was (blacklist
entries and links between existing rows keep working)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from shop.addresses import building_normalize
from shop.services import address_normalize

BEFORE = [("shop", "0007_phone_confirmation")]
AFTER = [("shop", "0009_address_defaults")]


@pytest.fixture
def schema_put_back():
    """Every app back at its latest migration afterwards: the tests after this one run on
    the schema of today's code, not on the one this test migrated to."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_first_address_becomes_the_default_and_keys_stay_as_they_were(schema_put_back):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User, Customer = old.get_model("auth", "User"), old.get_model("shop", "Customer")
    Address = old.get_model("shop", "Address")
    rows = []
    for n in range(3):
        user = User.objects.create(username=f"before{n}")
        customer = Customer.objects.create(user=user, phone=f"1380013800{n}",
                                           joined_at=timezone.now())
        for line1 in ("朝阳区建国路88号5号楼1单元101室", "88 Jianguo Road, Room 3")[:n + 1]:
            rows.append(Address.objects.create(
                customer=customer, recipient="R", phone="13800138000", line1=line1,
                city="北京", postcode="100022", normalized=f"stored-{len(rows)}",
                building=f"stored-building-{len(rows)}"))
    # Stored keys as the rules of the time made them (and two made by hand, to be redone).
    for row in rows[:-2]:
        row.normalized = address_normalize(line1=row.line1, city=row.city,
                                           postcode=row.postcode)
        row.building = building_normalize(line1=row.line1, city=row.city,
                                          postcode=row.postcode)
        row.save()
    kept = {row.pk: (row.normalized, row.building) for row in rows[:-2]}

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("shop", "Address")
    defaults = list(new.objects.filter(is_default=True).order_by("pk")
                    .values_list("customer_id", "pk"))
    firsts = {}
    for row in rows:
        firsts.setdefault(row.customer_id, row.pk)
    assert defaults == sorted(firsts.items())  # one per customer: its first
    for pk, keys in kept.items():
        address = new.objects.get(pk=pk)
        assert (address.normalized, address.building) == keys
    redone = new.objects.get(pk=rows[-1].pk)
    assert redone.normalized == address_normalize(line1=redone.line1, city=redone.city,
                                                  postcode=redone.postcode)
