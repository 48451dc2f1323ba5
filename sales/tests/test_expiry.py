"""Payment windows: an unpaid order expires and its unit returns to the gate exactly once."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from core.errors import DomainError
from sales import services
from sales.gate import admission, holdings
from sales.gate.admission import Purchase
from sales.models import StockReturn
from sales.pipeline import orders as pipeline
from shop import payments
from shop.models import Order, OrderStatus, Payment
from shop.tests.fixtures import client_for

# Units go back to the gate after commit: these tests need real commits.
pytestmark = pytest.mark.django_db(transaction=True)


def _order(sale, user_id: int) -> Order:
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=user_id))
    pipeline.drain(sale_id=sale.pk)
    return Order.objects.get(sale_id=sale.pk, user_id=user_id)


def test_an_unpaid_order_expires_and_its_unit_is_resold(make_sale, buyer_ids):
    sale = make_sale(stock=1)
    first, second = buyer_ids(2)
    order = _order(sale, first)
    with pytest.raises(DomainError) as refused:
        services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=second))
    assert refused.value.code == "sold_out"
    admission.sold_out_memo_clear()

    later = order.payment_due_at + timedelta(seconds=1)
    assert services.orders_expire_due(now=later) == 1
    assert services.orders_expire_due(now=later) == 0
    assert holdings.stock_left(sale_id=sale.pk) == 1
    assert StockReturn.objects.filter(order=order).count() == 1

    assert _order(sale, second).status == OrderStatus.AWAITING_PAYMENT


def test_paying_after_the_deadline_is_refused_and_the_unit_stays_resold(make_sale, buyer_ids):
    sale = make_sale(stock=1)
    [user] = buyer_ids(1)
    order = _order(sale, user)
    services.orders_expire_due(now=order.payment_due_at + timedelta(seconds=1))
    client = client_for(order.user)
    response = client.post(f"/api/v1/orders/{order.pk}/pay", {}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "payment_expired")
    assert not Payment.objects.filter(order=order, status="succeeded").exists()
    assert holdings.stock_left(sale_id=sale.pk) == 1


def test_a_cancelled_sale_order_gives_its_unit_back_once(make_sale, buyer_ids):
    sale = make_sale(stock=5)
    [user] = buyer_ids(1)
    order = _order(sale, user)
    client = client_for(order.user)
    assert client.post(f"/api/v1/orders/{order.pk}/cancel").status_code == 200
    services.orders_expire_due()
    services.orders_expire_due()
    assert holdings.stock_left(sale_id=sale.pk) == 5
    assert StockReturn.objects.get(order=order).reason == "cancelled"


def test_paying_and_expiring_racing_each_other_end_in_exactly_one(make_sale, buyer_ids,
                                                                   settings):
    settings.PAYMENT_GATEWAY_LATENCY_MS = 3
    sale = make_sale(stock=20)
    outcomes, rng = [], random.Random(11)
    for user in buyer_ids(20):
        order = _order(sale, user)
        deadline = timezone.now() + timedelta(milliseconds=50)
        Order.objects.filter(pk=order.pk).update(payment_due_at=deadline)
        barrier = threading.Barrier(2)
        results = {}

        def pay(order=order, deadline=deadline, results=results, barrier=barrier):
            barrier.wait()
            try:
                payments.order_pay(order_id=order.pk, user_id=order.user_id,
                                   now=deadline - timedelta(milliseconds=1))
                results["paid"] = True
            except DomainError as refusal:
                results["pay_refused"] = refusal.code
            finally:
                connections.close_all()

        delay = rng.uniform(0, 0.008)

        def expire(order=order, deadline=deadline, results=results, barrier=barrier,
                   delay=delay):
            barrier.wait()
            time.sleep(delay)  # sometimes the payment is ahead, sometimes the sweeper
            try:
                results["expired"] = services.sale_order_expire(
                    order_id=order.pk, now=deadline + timedelta(milliseconds=1))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=pay), threading.Thread(target=expire)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        order.refresh_from_db()
        outcomes.append(order.status)
        if order.status == OrderStatus.PAID:
            assert results.get("paid") and not results.get("expired")
            assert not StockReturn.objects.filter(order=order).exists()
        else:
            assert order.status == OrderStatus.EXPIRED and results["expired"]
            assert results.get("pay_refused") == "payment_expired"
            assert StockReturn.objects.filter(order=order).count() == 1
            assert not Payment.objects.filter(order=order, status="succeeded").exists()
    assert set(outcomes) <= {OrderStatus.PAID, OrderStatus.EXPIRED}
    paid = outcomes.count(OrderStatus.PAID)
    assert holdings.stock_left(sale_id=sale.pk) == 20 - paid
