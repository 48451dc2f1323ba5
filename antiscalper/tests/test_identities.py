"""Each identity kind has one normal form, matching what the gate and the shop store."""

from __future__ import annotations

import pytest

from antiscalper.identities import value_normalize
from core.errors import DomainError


@pytest.mark.parametrize(("kind", "typed", "stored"), [
    ("account", " 0042 ", "42"),
    ("device", "  dev-ABC ", "dev-ABC"),
    ("ip", " 10.1.2.3 ", "10.1.2.3"),
    ("ip", "2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
    ("phone", "138 0013-8000", "13800138000"),
    ("phone", "+86 (138) 0013 8000", "+8613800138000"),
    ("payment", "4111 1111-1111 1111", "4111111111111111"),
    ("payment", "Alipay:ABC", "alipay:abc"),
])
def test_values_are_stored_in_their_normal_form(db, kind, typed, stored):
    assert value_normalize(kind=kind, value=typed) == stored


def test_an_account_can_be_named_by_its_username(customer):
    name = customer.user.username.upper()
    assert value_normalize(kind="account", value=name) == str(customer.user_id)


def test_an_address_matches_the_shops_normalised_address_however_it_is_typed(customer):
    address = customer.addresses.get()
    typed = f"  {address.line1.upper()}  | {address.city} | {address.postcode} "
    assert value_normalize(kind="address", value=typed) == address.normalized
    assert value_normalize(kind="address", value=address.normalized) == address.normalized


def test_street_words_are_folded_in_addresses(db):
    assert value_normalize(kind="address", value="12 Nanjing Road|Shanghai|200 001") == \
        value_normalize(kind="address", value="12, nanjing rd.|SHANGHAI|200001")


@pytest.mark.parametrize(("kind", "value", "field"), [
    ("account", "nobody-by-that-name", "value"),
    ("ip", "10.0.0.0/8", "value"),
    ("ip", "not-an-ip", "value"),
    ("phone", "12", "value"),
    ("address", "just one line", "value"),
    ("device", "x" * 65, "value"),
    ("device", "   ", "value"),
    ("email", "someone@example.com", "kind"),
])
def test_bad_values_are_refused_naming_the_field(db, kind, value, field):
    with pytest.raises(DomainError) as refused:
        value_normalize(kind=kind, value=value)
    assert refused.value.code == "invalid"
    assert list(refused.value.details) == [field]
