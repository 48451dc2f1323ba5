"""Ops read shoppers' addresses in admin (issue 18 point 2): province, city and district,
whether each is the default or deleted, every version an edit left; they cannot edit, add or
delete one (the shopper's address book writes them, orders and linking hold them)."""

from __future__ import annotations

import pytest

from shop import address_book, services

pytestmark = pytest.mark.django_db

HOME = {"recipient": "雷军", "phone": "13800138011", "province": "广东省", "city": "深圳市",
        "district": "南山区", "line1": "科技园南区1号", "postcode": "518057"}


@pytest.fixture
def ops(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def book(make_customer):
    """A customer with a live default address and a deleted one."""
    customer = make_customer(with_address=False)
    kept = services.address_create(customer=customer, **HOME)
    gone = services.address_create(customer=customer, **{**HOME, "line1": "旧址9号"})
    address_book.address_delete(user_id=customer.user_id, address_id=gone.pk)
    return customer, kept, gone


def test_the_address_list_shows_the_region_and_the_default_and_deleted_marks(ops, book):
    html = ops.get("/admin/shop/address/").content.decode()
    for words in ("广东省", "深圳市", "南山区", "科技园南区1号", "旧址9号", "Deleted",
                  "Is default"):
        assert words in html, words
    deleted_only = ops.get("/admin/shop/address/?deleted_at__isnull=False").content.decode()
    assert "旧址9号" in deleted_only and "科技园南区1号" not in deleted_only


def test_an_address_page_is_read_only_and_cannot_be_deleted_or_added(ops, book):
    _, kept, _ = book
    page = ops.get(f"/admin/shop/address/{kept.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200 and "南山区" in html
    for field in ("line1", "province", "district", "is_default", "deleted_at"):
        assert f'name="{field}"' not in html, field
    assert ops.get(f"/admin/shop/address/{kept.pk}/delete/").status_code == 403
    assert ops.get("/admin/shop/address/add/").status_code == 403
    changed = ops.post(f"/admin/shop/address/{kept.pk}/change/", {"line1": "ops wrote this"})
    kept.refresh_from_db()
    assert changed.status_code in (302, 403) and kept.line1 == HOME["line1"]


def test_a_customers_page_lists_every_version_of_its_addresses_read_only(ops, book):
    customer, _, _ = book
    html = ops.get(f"/admin/shop/customer/{customer.pk}/change/").content.decode()
    assert "科技园南区1号" in html and "旧址9号" in html
    assert 'name="addresses-0-line1"' not in html and 'name="addresses-0-DELETE"' not in html
