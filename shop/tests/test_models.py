"""The invariants the database itself enforces, whoever writes the rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from shop.models import Customer, Order, OrderLine, Payment, Product, Sku


def test_two_customers_cannot_share_a_phone(customer):
    other = get_user_model().objects.create_user(username="other", password="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(user=other, phone=customer.phone, joined_at=timezone.now())


def test_one_user_cannot_use_one_idempotency_key_for_two_payments(order, customer):
    Payment.objects.create(order=order, user=customer.user, idempotency_key="k-1",
                           purpose="full", amount=order.total)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(order=order, user=customer.user, idempotency_key="k-1",
                               purpose="full", amount=order.total)


def test_two_users_may_use_the_same_idempotency_key(make_customer, make_order):
    for buyer in (make_customer(), make_customer()):
        placed = make_order(user=buyer.user)
        Payment.objects.create(order=placed, user=buyer.user, idempotency_key="shared",
                               purpose="full", amount=placed.total)
    assert Payment.objects.filter(idempotency_key="shared").count() == 2


def test_one_ticket_can_never_become_two_orders(make_order, customer):
    make_order(user=customer.user, ticket="tk-1", sale_id=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_order(user=customer.user, ticket="tk-1", sale_id=1)


def test_orders_without_a_ticket_do_not_collide(make_order, customer):
    make_order(user=customer.user)
    make_order(user=customer.user)
    assert Order.objects.filter(ticket__isnull=True).count() == 2


def test_order_numbers_are_unique(make_order, customer):
    first = make_order(user=customer.user)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_order(user=customer.user, number=first.number)


@pytest.mark.parametrize("field", ["total", "deposit", "balance_due"])
def test_an_order_cannot_hold_negative_money(order, field):
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(**{field: Decimal("-0.01")})


def test_a_payment_cannot_be_for_a_negative_amount(order, customer):
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(order=order, user=customer.user, idempotency_key="neg",
                               purpose="full", amount=Decimal("-1.00"))


@pytest.mark.parametrize("price", [Decimal("0"), Decimal("-5.00")])
def test_a_sku_must_cost_something(db, price):
    product = Product.objects.create(name="Mi Band 3", category="wearable")
    with pytest.raises(IntegrityError), transaction.atomic():
        Sku.objects.create(product=product, code="BAND3", name="Mi Band 3", price=price)


def test_an_order_line_needs_at_least_one_unit(order, sku):
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderLine.objects.create(order=order, sku=sku, quantity=0, unit_price=sku.price)


def test_an_orders_total_is_its_line_price_times_quantity(make_order, customer):
    placed = make_order(user=customer.user, quantity=3)
    line = placed.lines.get()
    assert line.unit_price * line.quantity == Decimal("7497.00") == placed.total
