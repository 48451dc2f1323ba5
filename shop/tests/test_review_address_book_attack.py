"""An outsider's review of the address book (issue 18 point 2): an order ships to the text
it was placed with, whoever edits what afterwards, and nobody else's address can be put on
it; every version an edit left goes with the account when the account itself goes."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from shop import address_book, services
from shop.models import Address, Customer
from shop.services import order_create
from shop.tests.fixtures import client_for

pytestmark = pytest.mark.django_db

HOME = {"recipient": "雷军", "phone": "13800138011", "province": "北京市", "city": "北京市",
        "district": "海淀区", "line1": "清河中街68号", "postcode": "100085"}


def _staff(*codenames: str) -> Client:
    user = get_user_model().objects.create_user("review-ops", password="ops-password-123",
                                                is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    browser = Client()
    browser.force_login(user)
    return browser


def test_ops_who_may_change_orders_cannot_send_one_to_another_shoppers_address(
        make_customer, make_order):
    """Ops mark orders shipped on the order's page; its address is the shopper's record of
    where the order goes, shown on the shopper's order page, not a box to type an id in."""
    me, stranger = make_customer(), make_customer()
    order = make_order(user=me.user)
    mine = me.addresses.get()
    order.address = mine
    order.save(update_fields=["address"])
    theirs = stranger.addresses.get()
    ops = _staff("view_order", "change_order")
    page = ops.get(f"/admin/shop/order/{order.pk}/change/").content.decode()
    assert 'name="address"' not in page
    ops.post(f"/admin/shop/order/{order.pk}/change/", {
        "address": theirs.pk, "_save": "Save",
        "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0",
        "payments-TOTAL_FORMS": "0", "payments-INITIAL_FORMS": "0"})
    order.refresh_from_db()
    assert order.address_id == mine.pk


def test_an_account_that_edited_its_address_can_still_be_removed_with_every_version(
        make_customer):
    """Versions point at the newer one (`replaced_by`); that must keep a lone version from
    going, not the account with all of them."""
    customer = make_customer(with_address=False)
    first = services.address_create(customer=customer, **HOME)
    second = address_book.address_update(user_id=customer.user_id, address_id=first.pk,
                                         line1="清河中街70号")
    address_book.address_update(user_id=customer.user_id, address_id=second.pk,
                                line1="清河中街72号")
    customer.user.delete()
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert not Address.objects.filter(customer_id=customer.pk).exists()


def test_an_api_order_shows_the_text_it_ships_to_after_the_address_is_edited_and_deleted(
        make_customer, sku):
    """The order's `address` id answers 404 once the address is deleted (and its newest
    version's text after an edit): the order itself must say where it goes."""
    customer = make_customer(with_address=False)
    api = client_for(customer.user)
    placed = api.post("/api/v1/me/addresses", HOME, format="json").json()
    order = order_create(user_id=customer.user_id, lines=[(sku.pk, 1)],
                         address_id=placed["id"])
    edited = api.patch(f"/api/v1/me/addresses/{placed['id']}", {"line1": "别处1号"},
                       format="json").json()
    api.delete(f"/api/v1/me/addresses/{edited['id']}")
    shown = api.get(f"/api/v1/orders/{order.pk}").json()
    listed = api.get("/api/v1/orders").json()
    assert shown["address"] == placed["id"]  # part 1's field, as it was
    assert shown["delivery_address"] == HOME
    assert [o["delivery_address"] for o in listed] == [HOME]
