"""The storefront's address book: add a delivery address after registering, with the API's
rules and the same normalised form, and come back to the sale page to use it."""

from __future__ import annotations

import pytest
from django.test import Client

from shop.models import Address
from shop.tests.helpers import csrf_post, page, registration

pytestmark = pytest.mark.django_db

OFFICE = {"recipient": "Lin Bin", "phone": "139 0013 9000", "province": "Beijing",
          "city": "Beijing", "district": "Haidian", "line1": "Xiaomi Campus, Anningzhuang Road",
          "postcode": "100085"}


@pytest.fixture
def shopper() -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.get("/register/")
    assert csrf_post(browser, "/register/", registration()).status_code == 302
    return browser


def test_an_anonymous_visitor_is_sent_to_log_in():
    response = Client().get("/account/addresses/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_shopper_adds_an_address_and_sees_it_listed(shopper):
    assert "68 Qinghe Middle Street" in page(shopper.get("/account/addresses/"))
    done = csrf_post(shopper, "/account/addresses/", OFFICE)
    assert done.status_code == 302 and done["Location"] == "/account/addresses/"
    added = Address.objects.get(recipient="Lin Bin")
    assert added.phone == "13900139000" and added.normalized  # the API's normal forms
    listed = page(shopper.get("/account/addresses/"))
    assert "Xiaomi Campus, Anningzhuang Road" in listed and "Address added" in listed


def test_after_adding_the_shopper_goes_back_where_they_came_from(shopper):
    done = csrf_post(shopper, "/account/addresses/", {**OFFICE, "next": "/sales/7/"})
    assert done["Location"] == "/sales/7/"
    elsewhere = csrf_post(shopper, "/account/addresses/",
                          {**OFFICE, "next": "https://evil.example/"})
    assert elsewhere["Location"] == "/account/addresses/"


@pytest.mark.parametrize("change, field", [({"postcode": ""}, "Postcode"),
                                           ({"phone": "call me"}, "Mobile phone"),
                                           ({"recipient": "x" * 81}, "Recipient")])
def test_a_bad_address_is_refused_field_by_field_and_nothing_is_saved(shopper, change, field):
    response = csrf_post(shopper, "/account/addresses/", {**OFFICE, **change})
    assert response.status_code == 400
    assert f"<li>{field}: " in page(response)
    assert not Address.objects.filter(line1=OFFICE["line1"]).exists()
