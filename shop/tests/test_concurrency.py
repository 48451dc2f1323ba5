"""Transitions racing each other in real threads on the real database end in one outcome."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection

from core.errors import DomainError
from shop import payments, services
from shop.models import OrderStatus, Payment
from shop.tests.helpers import run_together

S = OrderStatus
ROUNDS = 5

pytestmark = pytest.mark.django_db(transaction=True)


def _pay(order, key=None):
    return lambda: payments.order_pay(order_id=order.id, user_id=order.user_id,
                                      idempotency_key=key)


def _expire_after(order, delay: float):
    """The sweeper, arriving `delay` seconds after the payer, once the deadline has passed."""
    def expire():
        time.sleep(delay)
        later = order.payment_due_at + timedelta(seconds=1)
        return services.order_expire(order_id=order.id, now=later)
    return expire


def test_a_payment_racing_expiry_ends_in_exactly_one_of_the_two(make_order, customer, ledger,
                                                                 settings):
    """The sweeper arrives before, during and after the charge; each race has one winner."""
    settings.PAYMENT_GATEWAY_LATENCY_MS = 30
    for delay in [0, 0.005, 0.01, 0.02, 0.03, 0.04, 0.06, 0.1]:
        order = make_order(user=customer.user)
        charges, refunds = len(ledger.charges), len(ledger.refunds)
        paid, expired = run_together(_pay(order), _expire_after(order, delay))
        order.refresh_from_db()
        succeeded = Payment.objects.filter(order=order, status="succeeded").count()
        kept = (len(ledger.charges) - charges) - (len(ledger.refunds) - refunds)
        if expired is True:
            assert isinstance(paid, DomainError) and paid.code == "payment_expired", paid
            assert (order.status, succeeded, kept) == (S.EXPIRED, 0, 0)
        else:
            assert expired is False, expired
            assert not isinstance(paid, Exception), paid
            assert (order.status, succeeded, kept) == (S.PAID, 1, 1)


def test_two_pays_with_one_key_at_once_charge_once(make_order, customer, ledger, settings):
    settings.PAYMENT_GATEWAY_LATENCY_MS = 20
    for _ in range(ROUNDS):
        order = make_order(user=customer.user)
        key = f"double-click-{order.id}"
        charges = len(ledger.charges)
        results = run_together(_pay(order, key), _pay(order, key))
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) < 2, errors
        assert all(isinstance(e, DomainError) and e.code == "payment_in_progress"
                   for e in errors), errors
        order.refresh_from_db()
        assert order.status == S.PAID
        assert Payment.objects.filter(order=order).count() == 1
        assert len(ledger.charges) - charges == 1


def test_two_pays_with_different_keys_at_once_keep_one_charge(make_order, customer, ledger,
                                                              settings):
    settings.PAYMENT_GATEWAY_LATENCY_MS = 20
    for _ in range(ROUNDS):
        order = make_order(user=customer.user)
        charges, refunds = len(ledger.charges), len(ledger.refunds)
        results = run_together(_pay(order, f"a-{order.id}"), _pay(order, f"b-{order.id}"))
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1, results
        assert isinstance(errors[0], DomainError)
        assert errors[0].code in {"already_paid", "not_payable"}
        order.refresh_from_db()
        assert order.status == S.PAID
        assert Payment.objects.filter(order=order, status="succeeded").count() == 1
        assert (len(ledger.charges) - charges) - (len(ledger.refunds) - refunds) == 1


def _pay_in_background(order, key):
    """Start paying in a thread; return once the gateway is charging, and the thread's result."""
    result: list[object] = []

    def work():
        try:
            result.append(_pay(order, key)())
        except Exception as error:
            result.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 10
    while not Payment.objects.filter(idempotency_key=key).exists():
        assert time.monotonic() < deadline, "the payment never reached the gateway"
        time.sleep(0.01)
    return thread, result


@pytest.mark.parametrize(("move", "status", "code"), [
    (lambda o: services.order_expire(order_id=o.id, now=o.payment_due_at + timedelta(seconds=1)),
     S.EXPIRED, "payment_expired"),
    (lambda o: services.order_cancel(order_id=o.id, user_id=o.user_id),
     S.CANCELLED, "not_payable"),
])
def test_a_charge_that_loses_the_race_is_refunded_and_its_retry_says_the_same(
        make_order, customer, ledger, settings, move, status, code):
    settings.PAYMENT_GATEWAY_LATENCY_MS = 300
    order = make_order(user=customer.user)
    thread, result = _pay_in_background(order, "slow")
    move(order)
    thread.join(timeout=30)
    [error] = result
    assert isinstance(error, DomainError) and error.code == code, error
    order.refresh_from_db()
    assert order.status == status
    payment = Payment.objects.get(idempotency_key="slow")
    assert payment.status == Payment.Status.REFUNDED
    assert ledger.refunds == ledger.charges == [payment.gateway_ref]
    settings.PAYMENT_GATEWAY_LATENCY_MS = 0
    with pytest.raises(DomainError) as retry:
        _pay(order, "slow")()
    assert (retry.value.code, retry.value.message) == (code, error.message)
    assert len(ledger.charges) == 1
