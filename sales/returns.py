"""Units going back: every order that stops holding its units (expired, cancelled, refunded,
forfeited, cancelled for risk) returns them to the gate exactly once.

Units go back only through `stock_release`, which inserts a unique StockReturn row first and
moves the database's counters in the same transaction, so each order returns its units once
however many sweepers race for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Greatest
from django.utils import timezone

from sales.gate import ops as gate_ops
from sales.models import (
    NOT_HOLDING,
    FCode,
    FlashSale,
    SaleBuyer,
    StockReturn,
)
from shop import services as shop_services
from shop.models import Order, OrderStatus
from shop.payments import order_refund, payments_refund

S = OrderStatus


def units_give_back(*, sale_id: int, user_id: int, units: int, through_fcode: bool) -> None:
    """The database's side of a StockReturn, in its transaction: the guard's counters give
    the units back (never below zero: orders written before the counters existed are not
    held against them). The sale's row first, then the buyer's: the order batches take."""
    FlashSale.objects.filter(pk=sale_id).update(
        units_taken=Greatest(F("units_taken") - units, 0),
        fcode_units_taken=Greatest(F("fcode_units_taken") - (units if through_fcode else 0), 0))
    SaleBuyer.objects.filter(sale_id=sale_id, user_id=user_id).update(
        units_taken=Greatest(F("units_taken") - units, 0))


def stock_release(*, order_id: int, reason: str) -> bool:
    """Return a non-holding sale order's units to the gate, exactly once."""
    order = Order.objects.filter(pk=order_id, status__in=NOT_HOLDING,
                                 sale_id__isnull=False).first()
    if order is None:
        return False
    units = order.lines.aggregate(units=Sum("quantity"))["units"] or 0
    through_fcode = FCode.objects.filter(order_id=order.pk).exists()
    try:
        with transaction.atomic():
            StockReturn.objects.create(order=order, sale_id=order.sale_id, quantity=units,
                                       reason=reason)
            units_give_back(sale_id=order.sale_id, user_id=order.user_id, units=units,
                            through_fcode=through_fcode)
            transaction.on_commit(lambda: gate_ops.release(
                sale_id=order.sale_id, user_id=order.user_id, units=units,
                token=f"o:{order.pk}", fcode=through_fcode))
    except IntegrityError:
        return False  # someone returned it first
    return True


def sale_order_expire(*, order_id: int, now: datetime | None = None) -> bool:
    """Expire an unpaid sale order past its deadline and give its units back, once."""
    with transaction.atomic():
        if not shop_services.order_expire(order_id=order_id, now=now):
            return False
        stock_release(order_id=order_id, reason="expired")
    return True


def orders_expire_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Sweep: expire due sale orders, and return units of sale orders that stopped holding
    them by other paths (customer cancel, refund, forfeit). Safe to run concurrently."""
    now = now or timezone.now()
    due = Order.objects.filter(
        sale_id__isnull=False, status__in=[S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT],
        payment_due_at__lt=now,
    ).values_list("pk", flat=True)[:limit]
    expired = sum(1 for order_id in due if sale_order_expire(order_id=order_id, now=now))
    due_balance = Order.objects.filter(
        sale_id__isnull=False, status=S.AWAITING_BALANCE, payment_due_at__lt=now,
    ).values_list("pk", flat=True)[:limit]
    for order_id in due_balance:
        with transaction.atomic():
            if shop_services.order_forfeit(order_id=order_id, now=now):
                stock_release(order_id=order_id, reason="forfeited")
    unreturned = Order.objects.filter(
        Q(sale_id__isnull=False), status__in=NOT_HOLDING, stock_return__isnull=True,
    ).values_list("pk", "status")[:limit]
    for order_id, status in unreturned:
        stock_release(order_id=order_id, reason=status)
    returns_replay(since=now - timedelta(minutes=10))
    return expired


def returns_replay(*, since: datetime) -> int:
    """Release again what was returned lately: a release lost between the database's commit
    and Redis (a crash, a blip) is applied now; one already applied adds nothing."""
    replayed = 0
    for ret in StockReturn.objects.filter(created_at__gte=since).select_related("order"):
        through_fcode = FCode.objects.filter(order_id=ret.order_id).exists()
        replayed += gate_ops.release(sale_id=ret.sale_id, user_id=ret.order.user_id,
                                 units=ret.quantity, token=f"o:{ret.order_id}",
                                 fcode=through_fcode)
    return replayed


def orders_cancel_for_risk(*, sale_id: int, user_ids: list[int],
                           tickets: list[str] | None = None) -> int:
    """Cancel the unshipped orders of accounts the risk engine blocked after admission: unpaid
    ones are cancelled, paid ones refunded through the gateway; units go back to the gate."""
    cancelled = 0
    orders = Order.objects.filter(sale_id=sale_id, user_id__in=user_ids,
                                  status__in=[S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT,
                                              S.AWAITING_BALANCE, S.PAID])
    if tickets is not None:
        orders = orders.filter(ticket__in=tickets)
    for order_id, status in orders.values_list("pk", "status"):
        with transaction.atomic():
            if status == S.PAID:
                done = order_refund(order_id=order_id)
            else:
                done = shop_services.order_transition(order_id=order_id, to=S.CANCELLED,
                                                      expected=[status])
                if done and status == S.AWAITING_BALANCE:
                    payments_refund(order_id=order_id)  # the deposit: not a forfeit
            if done:
                stock_release(order_id=order_id, reason="risk")
                cancelled += 1
    return cancelled
