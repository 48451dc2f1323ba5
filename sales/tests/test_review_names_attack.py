"""Review of the admin's record names (core.names, the models' `__str__`): Django's delete
confirmation lists by name every record that goes with a sale or an account (or keeps it
from going), so a name that looks up a username, a title or a number costs one query per
record there. Those pages must cost the same queries for four shoppers as for one."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sales.models import FCode, RejectedTicket, Reminder, Reservation, SaleBuyer, StockReturn
from shop.models import OrderStatus, Payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(client, superuser):
    client.force_login(superuser)
    return client


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


def shopper_in(sale, *, make_customer, make_order):
    """A shopper with one of every record a sale keeps of its buyers."""
    user = make_customer().user
    SaleBuyer.objects.create(sale=sale, user_id=user.pk, units_taken=1)
    Reservation.objects.create(sale=sale, user=user)
    Reminder.objects.create(sale=sale, user=user)
    FCode.objects.create(sale=sale, user=user, code_hash=f"hash-{user.pk}", hint="0001",
                         expires_at=timezone.now() + timedelta(days=1))
    order = make_order(user=user, sale_id=sale.pk, status=OrderStatus.EXPIRED)
    StockReturn.objects.create(order=order, sale=sale, quantity=1, reason="expired")
    RejectedTicket.objects.create(ticket=f"{sale.pk}-t{user.pk}", sale=sale, user_id=user.pk,
                                  quantity=1, reason="risk_blocked")
    return user


def test_deleting_a_sale_asks_in_the_same_queries_for_four_shoppers_as_for_one(
        ops, make_sale, make_customer, make_order):
    one, four = make_sale(load=False), make_sale(load=False)
    shopper_in(one, make_customer=make_customer, make_order=make_order)
    for _ in range(4):
        shopper_in(four, make_customer=make_customer, make_order=make_order)
    queries(ops, f"/admin/sales/flashsale/{one.pk}/delete/")  # caches warm
    assert (queries(ops, f"/admin/sales/flashsale/{four.pk}/delete/")
            == queries(ops, f"/admin/sales/flashsale/{one.pk}/delete/"))


def test_deleting_an_account_asks_in_the_same_queries_for_four_orders_as_for_one(
        ops, make_sale, make_customer, make_order):
    sale = make_sale(load=False)
    users = {}
    for count in (1, 4):
        user = make_customer().user
        for n in range(count):
            order = make_order(user=user, sale_id=sale.pk)
            Payment.objects.create(order=order, user=user, idempotency_key=f"{user.pk}-{n}",
                                   purpose=Payment.Purpose.FULL, amount=Decimal("1999.00"))
        Reservation.objects.create(sale=sale, user=user)
        users[count] = user
    queries(ops, f"/admin/auth/user/{users[1].pk}/delete/")  # caches warm
    assert (queries(ops, f"/admin/auth/user/{users[4].pk}/delete/")
            == queries(ops, f"/admin/auth/user/{users[1].pk}/delete/"))
