"""The gateway's instrument fingerprint (issue 16.1): one card, however it is written, has one
fingerprint for every account; different cards never share one; the card cannot be read back
from it; every payment the gateway answered carries it, and the migration gave old ones theirs.
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from shop import payments
from shop.models import Payment
from shop.payments import instrument_fingerprint, instrument_normalize

CARD_DIGITS = st.text(alphabet="0123456789", min_size=12, max_size=19)


def _written_differently(digits: str, draw) -> str:
    """The same card as a shopper might type it: spaces or dashes, full-width digits, case."""
    style = draw(st.sampled_from(["spaces", "dashes", "fullwidth", "mixed"]))
    groups = [digits[i:i + 4] for i in range(0, len(digits), 4)]
    if style == "spaces":
        return " ".join(groups)
    if style == "dashes":
        return "-".join(groups)
    if style == "fullwidth":
        return "".join(chr(ord(ch) + 0xFEE0) for ch in digits)
    return " - ".join(groups) + "  "


@settings(deadline=None)  # a shared, busy machine: no timing here
@given(digits=CARD_DIGITS, data=st.data())
def test_one_card_written_any_way_has_one_fingerprint(digits, data):
    written = _written_differently(digits, data.draw)
    assert instrument_fingerprint(written) == instrument_fingerprint(digits)


@settings(deadline=None)  # a shared, busy machine: no timing here
@given(a=CARD_DIGITS, b=CARD_DIGITS)
def test_two_different_cards_never_share_a_fingerprint(a, b):
    if instrument_normalize(a) != instrument_normalize(b):
        assert instrument_fingerprint(a) != instrument_fingerprint(b)


@settings(deadline=None)  # a shared, busy machine: no timing here
@given(instrument=st.text(min_size=1, max_size=64))
def test_a_fingerprint_is_not_the_instrument_and_needs_the_gateways_key(instrument):
    fingerprint = instrument_fingerprint(instrument)
    if not instrument_normalize(instrument):
        assert fingerprint == ""
        return
    assert len(fingerprint) == 32 and int(fingerprint, 16) >= 0
    assert fingerprint != instrument_normalize(instrument)
    assert instrument_fingerprint(instrument, key="another gateway") != fingerprint


@pytest.mark.parametrize("blank", ["", " ", " - ", "\t"])
def test_no_instrument_has_no_fingerprint_so_blank_payments_tie_no_one(blank):
    assert instrument_fingerprint(blank) == ""


def test_the_gateway_answers_the_fingerprint_with_the_charge_declined_or_not():
    ok = payments.SimulatedGateway(latency_ms=0, failure_rate=0.0).charge(
        key="k", amount=1, instrument="4111 1111 1111 1111")
    declined = payments.SimulatedGateway(latency_ms=0, failure_rate=1.0).charge(
        key="k", amount=1, instrument="4111-1111-1111-1111")
    assert ok.ok and not declined.ok
    assert ok.fingerprint == declined.fingerprint == instrument_fingerprint("4111111111111111")


@pytest.mark.django_db
def test_two_accounts_paying_with_one_card_store_one_fingerprint(make_customer, make_order):
    first, second = make_customer(), make_customer()
    for customer, written in ((first, "4111 1111 1111 1111"), (second, "4111111111111111")):
        order = make_order(user=customer.user)
        payments.order_pay(order_id=order.pk, user_id=customer.user_id, instrument=written)
    fingerprints = set(Payment.objects.values_list("fingerprint", flat=True))
    assert fingerprints == {instrument_fingerprint("4111111111111111")}
    assert set(Payment.objects.values_list("instrument", flat=True)) == {
        "4111 1111 1111 1111", "4111111111111111"}  # what the client sent is kept as sent


@pytest.mark.django_db
def test_a_declined_charge_keeps_the_fingerprint_the_gateway_gave(make_customer, make_order,
                                                                 settings):
    settings.PAYMENT_GATEWAY_FAILURE_RATE = 1.0
    customer = make_customer()
    order = make_order(user=customer.user)
    with pytest.raises(DomainError):
        payments.order_pay(order_id=order.pk, user_id=customer.user_id, instrument="card-1")
    payment = Payment.objects.get()
    assert (payment.status, payment.fingerprint) == ("failed", instrument_fingerprint("card-1"))


@pytest.mark.django_db
def test_the_migration_backfills_what_the_gateway_would_have_answered(make_customer, make_order):
    customer = make_customer()
    rows = []
    for n, instrument in enumerate(["4111 1111 1111 1111", "4111-1111-1111-1111", "", "alipay:X"]):
        rows.append(Payment.objects.create(
            order=make_order(user=customer.user), user=customer.user, idempotency_key=f"old{n}",
            purpose="full", amount=1, instrument=instrument, status="succeeded"))
    migration = importlib.import_module("shop.migrations.0006_payment_fingerprint")

    migration.backfill(apps, None)

    assert [Payment.objects.get(pk=row.pk).fingerprint for row in rows] == [
        instrument_fingerprint(row.instrument) for row in rows]
    assert rows[2].instrument == "" and Payment.objects.get(pk=rows[2].pk).fingerprint == ""
