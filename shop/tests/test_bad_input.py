"""Bad input from outside gets the error envelope (400/401/404), never a 500 or lost data.

Each case here answered a 500 before (issue 13, point 6).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from core.tests.helpers import assert_envelope
from shop.models import Address, Customer
from shop.tests.fixtures import client_for

DEEP = "[" * 50_000


def test_a_ticket_whose_sale_id_is_a_superscript_digit_is_404(api):
    assert_envelope(api.get("/api/v1/tickets/\u00b2-0123456789abcdef"), 404, "not_found")


def test_the_ticket_page_of_a_superscript_sale_id_is_404(customer):
    web = Client()
    web.force_login(customer.user)
    assert web.get("/tickets/\u00b2-0123456789abcdef/").status_code == 404


def test_appealing_for_a_superscript_account_is_400(api):
    response = api.post("/api/v1/appeals", {"message": "me", "kind": "account", "value": "\u00b2"},
                        format="json")
    assert_envelope(response, 400, "invalid")


def test_blacklisting_a_superscript_account_is_400(db):
    ops = get_user_model().objects.create_superuser("ops", password="ops-password-123")
    response = client_for(ops).post("/api/v1/ops/blacklist",
                                    {"kind": "account", "value": "\u00b2", "reason": "x"},
                                    format="json")
    assert_envelope(response, 400, "invalid")


@pytest.mark.parametrize("path", ["/api/v1/auth/register", "/api/v1/me/addresses",
                                  "/api/v1/appeals", "/api/v1/sales/1/purchase",
                                  "/api/v1/orders/1/pay", "/api/v1/ops/blacklist"])
def test_a_body_nested_fifty_thousand_deep_is_400_invalid(db, path):
    ops = get_user_model().objects.create_superuser("ops", password="ops-password-123")
    response = client_for(ops).post(path, data=DEEP, content_type="application/json")
    assert_envelope(response, 400, "invalid")


@pytest.mark.parametrize("query", ["offset=99999999999999999999", "limit=" + "9" * 30,
                                   "offset=\u00b2", "limit=1_0", "offset=2147483648"])
def test_an_offset_or_limit_no_database_can_take_is_400_naming_it(anon, db, query):
    error = assert_envelope(anon.get(f"/api/v1/products?{query}"), 400, "invalid")
    assert set(error["details"]) == {query.split("=")[0]}


def test_a_huge_limit_is_clamped_not_refused(anon, db):
    assert anon.get("/api/v1/products?limit=100000").status_code == 200


def test_refreshing_the_token_of_a_deleted_user_is_401(anon, customer):
    pair = anon.post("/api/v1/auth/token", {"username": customer.user.username,
                                            "password": "correct-horse-battery"}, format="json")
    refresh = pair.json()["refresh"]
    customer.user.delete()
    response = anon.post("/api/v1/auth/token/refresh", {"refresh": refresh}, format="json")
    assert_envelope(response, 401, "unauthenticated")


def test_an_address_too_long_once_normalised_is_400_and_not_stored(api, customer):
    before = Address.objects.count()
    response = api.post("/api/v1/me/addresses", {
        "recipient": "Li Lei", "phone": "13800138000", "line1": "\ufdfa" * 30,
        "city": "Shanghai", "postcode": "200001"}, format="json")
    error = assert_envelope(response, 400, "invalid")
    assert "line1" in error["details"]
    assert Address.objects.count() == before


@pytest.mark.parametrize("field,value", [("postcode", "1" * 40), ("line1", "\ufdfa" * 30),
                                         ("recipient", "r" * 81), ("city", "c" * 81)])
def test_registering_on_the_web_with_an_over_long_address_creates_no_account(db, field, value):
    form = {"username": "newfan", "password": "correct-horse-battery", "phone": "13900139000",
            "recipient": "Han Meimei", "line1": "1 Nanjing Road", "city": "Shanghai",
            "postcode": "200001"}
    response = Client().post("/register/", {**form, field: value})
    assert response.status_code == 400
    assert not get_user_model().objects.filter(username="newfan").exists()
    assert not Customer.objects.filter(phone="13900139000").exists()


def test_a_forwarded_address_that_is_not_an_ip_falls_back_to_the_peer(db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    client = APIClient(REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="not-an-ip")
    response = client.post("/api/v1/auth/register", {"username": "x"}, format="json")
    assert_envelope(response, 400, "invalid")


def test_a_phone_in_other_digits_is_the_same_phone_and_cannot_register_twice(anon, db):
    first = anon.post("/api/v1/auth/register", {"username": "fan1", "password": "x7-correct-horse",
                                                "phone": "13800138000"}, format="json")
    again = anon.post("/api/v1/auth/register", {
        "username": "fan2", "password": "x7-correct-horse",
        "phone": "\u0661\u0663\u0668\u0660\u0660\u0661\u0663\u0668\u0660\u0660\u0660"},
        format="json")
    assert first.status_code == 201
    assert_envelope(again, 400, "invalid")


@pytest.mark.parametrize("path,form", [
    ("/register/", {"username": "a\x00b", "password": "correct-horse-battery",
                    "phone": "13900139000", "recipient": "r", "line1": "l", "city": "c",
                    "postcode": "1"}),
    ("/appeal/", {"message": "a\x00b", "kind": "device", "value": "a\x00b"}),
    ("/account/addresses/", {"recipient": "a\x00b", "phone": "13800138000", "line1": "x",
                             "city": "y", "postcode": "1"}),
])
def test_a_nul_in_a_storefront_form_is_a_400_page(customer, path, form):
    web = Client()
    web.force_login(customer.user)
    users, addresses = get_user_model().objects.count(), Address.objects.count()
    assert web.post(path, form).status_code == 400
    assert (get_user_model().objects.count(), Address.objects.count()) == (users, addresses)
