"""A form's problems are written next to the field they are about (issue 18), besides the
summary above the form: a shopper on a phone sees which box to fix without scrolling."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from shop.tests.helpers import PASSWORD, page

pytestmark = pytest.mark.django_db


def _next_to(body: str, name: str) -> str:
    """The problem written beside the input `name` (inside its label), or ''."""
    pattern = (rf'<input name="{name}"[^>]*aria-invalid="true" '
               rf'aria-describedby="problem-{name}">\s*'
               rf'<span class="field-error" id="problem-{name}" role="alert">(.*?)</span>')
    found = re.search(pattern, body, flags=re.S)
    return found.group(1) if found else ""


def test_registration_problems_sit_next_to_their_fields(customer):
    form = {"username": customer.user.username, "password": PASSWORD, "phone": "12-ab",
            "recipient": "Li Lei", "line1": "", "city": "Shanghai", "postcode": "200001"}
    body = page(Client().post("/register/", form))
    assert _next_to(body, "line1") == "Needed for delivery."
    assert _next_to(body, "city") == ""  # a field without a problem says nothing
    assert 'aria-invalid="true" aria-describedby="problem-city"' not in body


def test_an_address_problem_sits_next_to_its_field(customer):
    browser = Client()
    browser.force_login(customer.user)
    response = browser.post("/account/addresses/", {
        "recipient": "Lin Bin", "phone": "call me", "line1": "1 Century Ave",
        "city": "Shanghai", "postcode": "200120"})
    assert response.status_code == 400
    assert _next_to(page(response), "phone")
    assert not _next_to(page(response), "postcode")
