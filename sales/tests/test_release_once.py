"""Units go back to the gate once per order or ticket, even when a release is lost on its way
to Redis, retried, or arrives after a rebuild that already counted the unit as free."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sales import services
from sales.gate import holdings
from sales.gate import ops as gate_ops
from sales.gate.admission import Purchase
from sales.models import StockReturn
from sales.pipeline import orders as pipeline
from sales.pipeline import reconcile
from shop.models import Address, Order, OrderStatus


def order_for(sale, user_id) -> Order:
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=user_id))
    pipeline.drain(sale_id=sale.pk)
    return Order.objects.get(sale_id=sale.pk, user_id=user_id)


def expire_without_reaching_redis(order: Order) -> None:
    """The database commits the expiry and its StockReturn; the INCRBY never happens."""
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.EXPIRED)
    StockReturn.objects.create(order=order, sale_id=order.sale_id, quantity=1,
                               reason="expired")
    services.units_give_back(sale_id=order.sale_id, user_id=order.user_id, units=1,
                             through_fcode=False)


def test_a_release_lost_after_commit_is_replayed_once_by_the_sweep(make_sale, buyer_ids):
    sale = make_sale(stock=2)
    order = order_for(sale, buyer_ids(1)[0])
    expire_without_reaching_redis(order)
    assert holdings.stock_left(sale_id=sale.pk) == 1
    services.orders_expire_due()
    services.orders_expire_due()
    assert holdings.stock_left(sale_id=sale.pk) == 2
    assert reconcile.sale_reconcile(sale_id=sale.pk).clean


def test_a_release_arriving_after_a_rebuild_adds_nothing(make_sale, buyer_ids):
    sale = make_sale(stock=2)
    order = order_for(sale, buyer_ids(1)[0])
    expire_without_reaching_redis(order)
    services.gate_rebuild(sale_id=sale.pk)  # counts the returned unit as free
    assert holdings.stock_left(sale_id=sale.pk) == 2
    assert not gate_ops.release(sale_id=sale.pk, user_id=order.user_id, units=1,
                            token=f"o:{order.pk}")  # the late INCRBY
    assert holdings.stock_left(sale_id=sale.pk) == 2


def test_a_rejected_tickets_unit_lost_on_the_way_is_released_on_redelivery(live_sale,
                                                                           buyer_ids):
    mine, theirs = buyer_ids(2)
    foreign = Address.objects.get(customer__user_id=theirs)
    services.purchase_admit(purchase=Purchase(
        sale_id=live_sale.pk, user_id=mine, address_id=foreign.pk))
    held = pipeline.batch_read(sale_id=live_sale.pk, consumer="crashes", count=10, min_idle_ms=0)
    pipeline.batch_write(sale=live_sale, batch=held)  # committed; the worker dies before publish
    assert holdings.stock_left(sale_id=live_sale.pk) == live_sale.stock - 1

    pipeline.drain(sale_id=live_sale.pk, min_idle_ms=0)
    pipeline.drain(sale_id=live_sale.pk, min_idle_ms=0)

    assert holdings.stock_left(sale_id=live_sale.pk) == live_sale.stock
    assert reconcile.sale_reconcile(sale_id=live_sale.pk).clean


@pytest.mark.django_db(transaction=True)
def test_expiring_twice_returns_the_unit_once(make_sale, buyer_ids):
    sale = make_sale(stock=1)
    order = order_for(sale, buyer_ids(1)[0])
    later = order.payment_due_at + timedelta(seconds=1)
    services.orders_expire_due(now=later)
    services.stock_release(order_id=order.pk, reason="expired")
    services.returns_replay(since=later - timedelta(hours=1))
    assert holdings.stock_left(sale_id=sale.pk) == 1
