"""Factories and helpers for the shop's tests: orders in any state, a gateway that counts."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from shop import payments
from shop.models import Order, OrderLine, OrderStatus

_numbers = itertools.count(1)


@pytest.fixture
def make_order(db, sku):
    """An order of one `sku` in any state, written directly (as sales and ops would leave it)."""

    def make(*, user, status: str = OrderStatus.AWAITING_PAYMENT, quantity: int = 1,
             deposit: Decimal = Decimal("0"), due_in: timedelta | None = timedelta(minutes=30),
             balance_opens_in: timedelta | None = None,
             balance_due_in: timedelta | None = None, **fields) -> Order:
        now = timezone.now()
        total = sku.price * quantity
        fields.setdefault("number", f"T{next(_numbers):010d}")
        order = Order.objects.create(
            user=user, status=status, total=total,
            deposit=deposit, balance_due=total - deposit if deposit else Decimal("0"),
            payment_due_at=now + due_in if due_in is not None else None,
            balance_opens_at=now + balance_opens_in if balance_opens_in is not None else None,
            balance_due_at=now + balance_due_in if balance_due_in is not None else None,
            created_at=now, **fields,
        )
        OrderLine.objects.create(order=order, sku=sku, quantity=quantity, unit_price=sku.price)
        return order

    return make


@pytest.fixture
def order(make_order, customer) -> Order:
    """A regular order of `customer`, awaiting payment for the next 30 minutes."""
    return make_order(user=customer.user)


@pytest.fixture
def deposit_order(make_order, customer) -> Order:
    """A pre-sale order: 100.00 deposit now, the balance payable from tomorrow for a day."""
    return make_order(user=customer.user, status=OrderStatus.AWAITING_DEPOSIT,
                      deposit=Decimal("100.00"), balance_opens_in=timedelta(days=1),
                      balance_due_in=timedelta(days=2))


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(
        username="ops", email="ops@example.com", password="ops-password-123"
    )


class CountingGateway(payments.SimulatedGateway):
    """The real simulated gateway, keeping a ledger of the charges and refunds it made."""

    charges: list[str]
    refunds: list[str]

    def charge(self, *, key, amount, instrument):
        result = super().charge(key=key, amount=amount, instrument=instrument)
        if result.ok:
            type(self).charges.append(result.reference)
        return result

    def refund(self, *, reference, amount):
        result = super().refund(reference=reference, amount=amount)
        type(self).refunds.append(reference)
        return result


@pytest.fixture
def ledger(monkeypatch):
    """Route order payments through a gateway whose charges and refunds can be counted."""
    gateway = type("Ledger", (CountingGateway,), {"charges": [], "refunds": []})
    monkeypatch.setattr(payments, "gateway", gateway)
    return gateway
