"""What a batch writes, in bulk, inside the transaction that holds the sale's row lock:
the orders and their lines, the sale's and each buyer's counters, the F-codes spent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import F

from sales import bulk
from sales.models import FCode, FlashSale, RejectedTicket, SaleBuyer, SaleMode
from sales.pipeline.queue import Entry
from shop.models import Order, OrderLine, OrderStatus
from shop.services import order_numbers_new

# The columns the pipeline writes, in the order of the rows `order_rows` builds.
ORDER_COLUMNS = ("number", "user_id", "address_id", "ticket", "total", "deposit", "balance_due",
                 "status", "payment_due_at", "balance_opens_at", "balance_due_at", "sale_id",
                 "created_at", "updated_at")
LINE_COLUMNS = ("order_id", "sku_id", "quantity", "unit_price")


def orders_insert(sale: FlashSale, accepted: list[Entry], now) -> dict[str, int]:
    """Each accepted entry's order and its one line, in two bulk inserts; ticket -> order id.
    A ticket written meanwhile by another worker is a unique violation: the batch rolls back
    and `drain` retries it, skipping what is settled."""
    ids = bulk.insert_rows(Order, ORDER_COLUMNS, order_rows(sale, accepted, now), ids=True)
    bulk.insert_rows(OrderLine, LINE_COLUMNS, [
        (order_id, sale.sku_id, e.quantity, sale.price)
        for order_id, e in zip(ids, accepted, strict=True)])
    return {e.ticket: order_id for e, order_id in zip(accepted, ids, strict=True)}


def order_rows(sale: FlashSale, entries: list[Entry], now) -> list[tuple]:
    """A deposit pre-sale's order waits for its deposit (then its balance: price - deposit -
    expansion); any other order waits for the full price within the payment window. Rows of
    ORDER_COLUMNS: everything but the buyer, the ticket and the amounts is the batch's own."""
    price, deposit, balance = sale.price, Decimal("0"), Decimal("0")
    status = OrderStatus.AWAITING_PAYMENT
    due, opens, closes = now + (sale.payment_window or timedelta(minutes=30)), None, None
    if sale.mode == SaleMode.DEPOSIT and sale.deposit:
        deposit, balance = sale.deposit, sale.balance_per_unit
        status, due = OrderStatus.AWAITING_DEPOSIT, now + sale.deposit_window
        opens, closes = sale.balance_opens_at, sale.balance_closes_at
    tail = (status.value, due, opens, closes, sale.pk, now, now)
    numbers = order_numbers_new(len(entries), now)
    return [(number, e.user_id, e.address_id, e.ticket, price * e.quantity, deposit * e.quantity,
             balance * e.quantity, *tail) for number, e in zip(numbers, entries, strict=True)]


def counters_move(sale: FlashSale, accepted: list[Entry]) -> None:
    """The sale's and each buyer's units, in the transaction that writes their orders."""
    units = sum(e.quantity for e in accepted)
    if not units:
        return
    FlashSale.objects.filter(pk=sale.pk).update(
        units_taken=F("units_taken") + units,
        fcode_units_taken=F("fcode_units_taken") + sum(e.quantity for e in accepted if e.fcode))
    by_user: dict[int, int] = {}
    for e in accepted:
        by_user[e.user_id] = by_user.get(e.user_id, 0) + e.quantity
    bulk.units_add(SaleBuyer, sale_id=sale.pk, units_by_user=by_user)


def fcodes_spend(accepted: list[Entry], order_ids: dict[str, int]) -> None:
    """Each code (or right) an order used is spent on that order."""
    for e in accepted:
        if e.fcode:
            FCode.objects.filter(code_hash=e.fcode, order__isnull=True).update(
                order_id=order_ids[e.ticket])


def rejections_insert(sale: FlashSale, rejects: list[tuple[Entry, str]], now) -> None:
    """Each ticket that cannot be an order, with its reason: the record that settles it."""
    bulk.insert(RejectedTicket, [
        {"ticket": e.ticket, "sale_id": sale.pk, "user_id": e.user_id, "quantity": e.quantity,
         "reason": reason, "created_at": now} for e, reason in rejects
    ])
