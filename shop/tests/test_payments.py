"""Paying for orders (shop.payments): what is due, refusals, idempotency, refunds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import DomainError
from shop import payments
from shop.models import OrderStatus, Payment

S = OrderStatus


def pay(order, **kwargs):
    kwargs.setdefault("user_id", order.user_id)
    return payments.order_pay(order_id=order.id, **kwargs)


def refusal(order, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        pay(order, **kwargs)
    return caught.value


def test_paying_a_regular_order_charges_the_full_price_once(order, ledger):
    paid = pay(order, idempotency_key="k1", method="alipay")
    assert paid.status == S.PAID
    payment = Payment.objects.get()
    assert (payment.purpose, payment.amount, payment.status, payment.method) == (
        "full", Decimal("2499.00"), "succeeded", "alipay")
    assert ledger.charges == [payment.gateway_ref]


def test_a_deposit_then_the_balance_pay_the_whole_price(deposit_order, ledger):
    after_deposit = pay(deposit_order, idempotency_key="dep", amount=Decimal("100.00"))
    assert after_deposit.status == S.AWAITING_BALANCE
    assert after_deposit.payment_due_at == after_deposit.balance_due_at
    in_window = after_deposit.balance_opens_at + timedelta(hours=1)
    paid = pay(deposit_order, idempotency_key="bal", amount=Decimal("2399.00"), now=in_window)
    assert paid.status == S.PAID
    assert sorted(Payment.objects.values_list("purpose", "amount")) == [
        ("balance", Decimal("2399.00")), ("deposit", Decimal("100.00"))]
    assert len(ledger.charges) == 2


def test_the_balance_cannot_be_paid_before_its_window_opens(make_order, customer, ledger):
    order = make_order(user=customer.user, status=S.AWAITING_BALANCE, deposit=Decimal("100"),
                       due_in=timedelta(days=2), balance_opens_in=timedelta(days=1))
    error = refusal(order)
    assert (error.code, error.status) == ("not_payable", 409)
    assert "balance_opens_at" in error.details
    assert not Payment.objects.exists()
    assert ledger.charges == []


def test_paying_the_wrong_amount_is_invalid_and_charges_nothing(order, ledger):
    error = refusal(order, amount=Decimal("2000.00"))
    assert (error.code, error.status) == ("invalid", 400)
    assert error.details == {"amount": ["must be 2499.00"]}
    assert not Payment.objects.exists()
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT


def test_the_deposit_amount_is_the_deposit_not_the_price(deposit_order, ledger):
    error = refusal(deposit_order, amount=deposit_order.total)
    assert error.code == "invalid"
    assert ledger.charges == []


@pytest.mark.parametrize("status", [S.PAID, S.SHIPPED, S.DELIVERED])
def test_a_paid_order_cannot_be_paid_again(make_order, customer, ledger, status):
    error = refusal(make_order(user=customer.user, status=status))
    assert (error.code, error.status) == ("already_paid", 409)
    assert ledger.charges == []


@pytest.mark.parametrize("status", [S.EXPIRED, S.FORFEITED])
def test_an_expired_or_forfeited_order_cannot_be_paid(make_order, customer, ledger, status):
    error = refusal(make_order(user=customer.user, status=status))
    assert (error.code, error.status) == ("payment_expired", 409)
    assert ledger.charges == []


def test_paying_after_the_deadline_is_refused_even_before_the_sweeper_ran(make_order, customer,
                                                                          ledger):
    order = make_order(user=customer.user, due_in=-timedelta(seconds=1))
    error = refusal(order)
    assert error.code == "payment_expired"
    assert error.details["payment_due_at"] == order.payment_due_at.isoformat()
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT
    assert ledger.charges == []


def test_a_balance_past_its_deadline_cannot_be_paid(make_order, customer, ledger):
    order = make_order(user=customer.user, status=S.AWAITING_BALANCE, deposit=Decimal("100"),
                       due_in=-timedelta(minutes=1), balance_opens_in=-timedelta(days=1))
    assert refusal(order).code == "payment_expired"
    assert ledger.charges == []


@pytest.mark.parametrize("status", [S.CANCELLED, S.REFUNDED])
def test_a_closed_order_is_not_payable(make_order, customer, ledger, status):
    error = refusal(make_order(user=customer.user, status=status))
    assert (error.code, error.details) == ("not_payable", {"status": status})
    assert ledger.charges == []


def test_nobody_can_pay_someone_elses_order(order, make_customer, ledger):
    error = refusal(order, user_id=make_customer().user_id)
    assert error.code == "not_found"
    assert not Payment.objects.exists()


def test_a_declined_card_is_payment_failed_and_its_retry_gives_the_same_answer(
        order, ledger, settings):
    settings.PAYMENT_GATEWAY_FAILURE_RATE = 1.0
    first = refusal(order, idempotency_key="k1")
    assert (first.code, first.status) == ("payment_failed", 402)
    settings.PAYMENT_GATEWAY_FAILURE_RATE = 0.0
    retry = refusal(order, idempotency_key="k1")
    assert (retry.code, retry.status, retry.message) == (first.code, first.status, first.message)
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.FAILED
    assert payment.failure_reason
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT
    assert ledger.charges == []


def test_after_a_decline_a_new_key_can_pay(order, ledger, settings):
    settings.PAYMENT_GATEWAY_FAILURE_RATE = 1.0
    refusal(order, idempotency_key="k1")
    settings.PAYMENT_GATEWAY_FAILURE_RATE = 0.0
    assert pay(order, idempotency_key="k2").status == S.PAID
    assert len(ledger.charges) == 1


def test_the_same_key_twice_makes_one_payment_and_one_charge(order, ledger):
    first = pay(order, idempotency_key="same")
    again = pay(order, idempotency_key="same")
    assert first.status == again.status == S.PAID
    assert Payment.objects.count() == 1
    assert len(ledger.charges) == 1


def test_a_key_used_for_one_order_is_refused_for_another(order, make_order, ledger):
    pay(order, idempotency_key="same")
    other = make_order(user=order.user)
    error = refusal(other, idempotency_key="same")
    assert (error.code, error.status) == ("idempotency_key_reused", 409)
    other.refresh_from_db()
    assert other.status == S.AWAITING_PAYMENT
    assert len(ledger.charges) == 1


def test_a_key_still_being_charged_answers_in_progress(order, ledger):
    Payment.objects.create(order=order, user=order.user, idempotency_key="busy",
                           purpose="full", amount=order.total)
    error = refusal(order, idempotency_key="busy")
    assert error.code == "payment_in_progress"
    assert ledger.charges == []


def test_payments_without_a_key_are_distinct_attempts(make_order, customer, ledger):
    orders = [make_order(user=customer.user) for _ in range(2)]
    for order in orders:
        pay(order)
    keys = set(Payment.objects.values_list("idempotency_key", flat=True))
    assert len(keys) == 2
    assert all(key.startswith("auto-") for key in keys)


def test_a_charge_that_loses_to_a_cancel_is_refunded_and_replays_the_same_answer(order, ledger):
    """The order moved while the gateway was busy (the charge is simulated mid-flight)."""
    payment = Payment.objects.create(
        order=order, user=order.user, idempotency_key="late", purpose="full",
        amount=order.total, status=Payment.Status.REFUNDED, gateway_ref="ch_x",
        failure_reason="The order became cancelled while paying; the charge was refunded.",
    )
    order.status = S.CANCELLED
    order.save(update_fields=["status"])
    error = refusal(order, idempotency_key="late")
    assert error.code == "not_payable"
    assert error.message == payment.failure_reason


@pytest.mark.parametrize("status", [S.PAID, S.DELIVERED])
def test_a_refund_returns_every_charge_of_a_paid_order(deposit_order, ledger, status):
    pay(deposit_order)
    pay(deposit_order, now=deposit_order.balance_opens_at + timedelta(minutes=1))
    deposit_order.status = status
    deposit_order.save(update_fields=["status"])
    assert payments.order_refund(order_id=deposit_order.id) is True
    deposit_order.refresh_from_db()
    assert deposit_order.status == S.REFUNDED
    assert set(Payment.objects.values_list("status", flat=True)) == {"refunded"}
    assert sorted(ledger.refunds) == sorted(ledger.charges)
    assert len(ledger.refunds) == 2


@pytest.mark.parametrize("status", [S.AWAITING_PAYMENT, S.SHIPPED, S.CANCELLED, S.REFUNDED])
def test_an_order_that_is_not_paid_or_delivered_is_not_refunded(make_order, customer, ledger,
                                                                status):
    order = make_order(user=customer.user, status=status)
    assert payments.order_refund(order_id=order.id) is False
    order.refresh_from_db()
    assert order.status == status
    assert ledger.refunds == []


def test_a_refunded_payment_replays_the_refunded_order(order, ledger):
    pay(order, idempotency_key="k")
    payments.order_refund(order_id=order.id)
    assert pay(order, idempotency_key="k").status == S.REFUNDED
    assert len(ledger.charges) == 1


def test_the_simulated_gateway_waits_its_latency_and_fails_at_its_rate():
    slow = payments.SimulatedGateway(latency_ms=50, failure_rate=0.0)
    started = timezone.now()
    assert slow.charge(key="k", amount=Decimal("1"), instrument="").ok
    assert timezone.now() - started >= timedelta(milliseconds=50)
    broken = payments.SimulatedGateway(latency_ms=0, failure_rate=1.0)
    assert not broken.charge(key="k", amount=Decimal("1"), instrument="").ok
