"""`manage.py seed`: the demo catalogue and N shoppers, idempotent."""

from __future__ import annotations

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from shop.models import Address, Customer, Product, Sku
from shop.seeding import CATALOG, DEMO_PASSWORD, phone_for, seed_customers, username_for
from shop.services import address_normalize

User = get_user_model()
CATALOG_SKUS = sum(len(skus) for _, _, skus in CATALOG)


def seed(**options) -> str:
    out = StringIO()
    call_command("seed", no_progress=True, stdout=out, **options)
    return out.getvalue()


def test_seeding_creates_the_catalogue_and_the_customers(db):
    output = seed(customers=5, batch=2)
    assert Product.objects.count() == len(CATALOG)
    assert Sku.objects.count() == CATALOG_SKUS
    assert sorted(Customer.objects.values_list("user__username", flat=True)) == [
        username_for(i) for i in range(1, 6)]
    assert f"catalog: {CATALOG_SKUS} new SKU(s); customers: 5 new of 5" in output


def test_seeding_twice_creates_nothing_new(db):
    seed(customers=4, batch=3)
    before = (Product.objects.count(), Sku.objects.count(), User.objects.count(),
              Customer.objects.count(), Address.objects.count())
    output = seed(customers=4, batch=3)
    after = (Product.objects.count(), Sku.objects.count(), User.objects.count(),
             Customer.objects.count(), Address.objects.count())
    assert after == before
    assert "catalog: 0 new SKU(s); customers: 0 new of 4" in output


def test_seeding_more_adds_only_the_missing_customers(db):
    seed(customers=3)
    first = set(Customer.objects.values_list("id", flat=True))
    output = seed(customers=7, batch=2)
    assert "customers: 4 new of 7" in output
    assert Customer.objects.count() == 7
    assert first <= set(Customer.objects.values_list("id", flat=True))


def test_every_seeded_customer_has_a_matchable_address_and_their_phone(db):
    seed(customers=6, batch=4)
    for customer in Customer.objects.prefetch_related("addresses").select_related("user"):
        [address] = customer.addresses.all()
        assert address.phone == customer.phone
        assert address.normalized == address_normalize(
            line1=address.line1, city=address.city, postcode=address.postcode)


def test_seeded_customers_are_deterministic_and_spread_over_fan_levels(db):
    seed_customers(count=200, batch=64)
    customer = Customer.objects.get(user__username=username_for(17))
    assert customer.phone == phone_for(17)
    levels = set(Customer.objects.values_list("fan_level", flat=True))
    assert len(levels) >= 4
    Customer.objects.all().delete()
    User.objects.all().delete()
    seed_customers(count=20)
    again = Customer.objects.get(user__username=username_for(17))
    assert (again.fan_level, again.is_verified) == (customer.fan_level, customer.is_verified)


def test_a_seeded_shopper_logs_in_with_the_demo_password(anon, db):
    seed(customers=1)
    response = anon.post("/api/v1/auth/token", {"username": username_for(1),
                                                "password": DEMO_PASSWORD}, format="json")
    assert response.status_code == 200
    assert "access" in response.json()


def test_seeding_reports_progress(db):
    out = StringIO()
    call_command("seed", customers=3, stdout=out)
    assert "customers" in out.getvalue()
    assert "3/3" in out.getvalue()


def test_seeding_no_customers_still_makes_the_catalogue(db):
    seed(customers=0)
    assert Sku.objects.count() == CATALOG_SKUS
    assert not Customer.objects.exists()


def test_seeded_phones_are_unique_and_spread_like_real_shoppers_numbers():
    """A run of consecutive numbers is what a SIM farm buys (antiscalper.phone_blocks): the
    demo's and the replay's genuine shoppers must not look like one. Ten thousand seeded
    phones: all different, valid mobile numbers, and no block of 100 numbers holds two."""
    from collections import Counter

    phones = [phone_for(i) for i in range(1, 10_001)]
    assert len(set(phones)) == len(phones)
    assert all(len(p) == 11 and p[0] == "1" and p.isdigit() for p in phones)
    assert max(Counter(p[:-2] for p in phones).values()) == 1
