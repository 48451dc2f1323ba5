"""The order pipeline: exactly one order per ticket, through crashes and redeliveries."""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from sales import services
from sales.gate import holdings
from sales.gate import keys as gate_keys
from sales.gate.admission import Purchase
from sales.gate.keys import PIPELINE_GROUP, SaleKeys
from sales.models import RejectedTicket
from sales.pipeline import guard
from sales.pipeline import orders as pipeline
from shop.models import Address, Order


def _admit_all(sale, user_ids, **extra) -> list[str]:
    return [services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=u, **extra)).ticket
            for u in user_ids]


def _pending(sale) -> int:
    return gate_keys.connection().xpending(SaleKeys(sale.pk).queue, PIPELINE_GROUP)["pending"]


def _die_after_reading(sale_id: int) -> None:
    pipeline.batch_read(sale_id=sale_id, consumer="doomed", count=1000)
    os.kill(os.getpid(), signal.SIGKILL)


def _die_after_committing(sale_id: int) -> None:
    connections.close_all()
    from sales.models import FlashSale

    held = pipeline.batch_read(sale_id=sale_id, consumer="doomed", count=1000)
    pipeline.batch_write(sale=FlashSale.objects.get(pk=sale_id), batch=held)
    os.kill(os.getpid(), signal.SIGKILL)  # committed, never acknowledged


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("dies", [_die_after_reading, _die_after_committing])
def test_a_worker_killed_mid_batch_loses_no_ticket_and_duplicates_none(make_sale, buyer_ids,
                                                                        dies):
    sale = make_sale(stock=300)
    tickets = _admit_all(sale, buyer_ids(300))
    connections.close_all()
    worker = multiprocessing.get_context("fork").Process(target=dies, args=(sale.pk,))
    worker.start()
    worker.join(timeout=60)
    assert worker.exitcode == -signal.SIGKILL
    assert _pending(sale) == 300

    assert pipeline.drain(sale_id=sale.pk, consumer="survivor") == 0  # not idle long enough
    pipeline.drain(sale_id=sale.pk, consumer="survivor", min_idle_ms=0)

    orders = Order.objects.filter(sale_id=sale.pk)
    assert sorted(orders.values_list("ticket", flat=True)) == sorted(tickets)
    assert _pending(sale) == 0 and holdings.state(sale_id=sale.pk).queued == 0


def test_a_redelivered_batch_creates_no_second_order(live_sale, buyer_ids):
    tickets = _admit_all(live_sale, buyer_ids(5))
    held = pipeline.batch_read(sale_id=live_sale.pk, consumer="first", count=100, min_idle_ms=0)
    first = pipeline.batch_write(sale=live_sale, batch=held)
    again = pipeline.batch_write(sale=live_sale, batch=held)
    assert first.confirmed == again.confirmed and set(first.confirmed) == set(tickets)
    assert Order.objects.filter(sale_id=live_sale.pk).count() == 5


def test_an_entry_delivered_too_often_is_rejected_and_its_unit_returned(live_sale, buyer_ids,
                                                                         monkeypatch):
    [user] = buyer_ids(1)
    [ticket] = _admit_all(live_sale, [user])
    left = holdings.stock_left(sale_id=live_sale.pk)

    def broken(*args, **kwargs):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(pipeline, "batch_write", broken)
    for _ in range(pipeline.MAX_DELIVERIES):
        with pytest.raises(RuntimeError):
            pipeline.drain(sale_id=live_sale.pk, min_idle_ms=0)
    monkeypatch.undo()
    pipeline.drain(sale_id=live_sale.pk, min_idle_ms=0)

    assert RejectedTicket.objects.get(ticket=ticket).reason == "undeliverable"
    assert holdings.stock_left(sale_id=live_sale.pk) == left + 1
    assert _pending(live_sale) == 0


def test_a_ticket_with_someone_elses_address_is_rejected_and_its_unit_returned(
        live_sale, buyer_ids):
    mine, theirs = buyer_ids(2)
    foreign = Address.objects.get(customer__user_id=theirs)
    [ticket] = _admit_all(live_sale, [mine], address_id=foreign.pk)
    pipeline.drain(sale_id=live_sale.pk)
    assert RejectedTicket.objects.get(ticket=ticket).reason == "address_invalid"
    assert holdings.stock_left(sale_id=live_sale.pk) == live_sale.stock
    assert not Order.objects.filter(ticket=ticket).exists()


def test_a_ticket_written_behind_the_check_is_retried_not_duplicated(make_sale, buyer_ids,
                                                                     monkeypatch):
    """The bulk insert (a binary COPY on PostgreSQL) refuses a ticket that already has an
    order as an IntegrityError; drain retries the batch, which then skips it."""
    live_sale = make_sale(limit=2)  # so that the guard lets the blind write through
    tickets = _admit_all(live_sale, buyer_ids(3))
    held = pipeline.batch_read(sale_id=live_sale.pk, consumer="first", count=100, min_idle_ms=0)
    first = pipeline.batch_write(sale=live_sale, batch=held)
    real, calls = guard.settled_find, []

    def blind_once(sale_id, batch_tickets):
        calls.append(1)
        return real(sale_id, []) if len(calls) == 1 else real(sale_id, batch_tickets)

    monkeypatch.setattr(guard, "settled_find", blind_once)
    assert pipeline.drain(sale_id=live_sale.pk, consumer="second", min_idle_ms=0) == 3
    assert len(calls) == 2  # the first write conflicted and rolled back
    assert Order.objects.filter(sale_id=live_sale.pk).count() == 3
    statuses = {t: gate_keys.connection().hgetall(SaleKeys(live_sale.pk).ticket(t))
                for t in tickets}
    assert {t: (s["status"], int(s["order"])) for t, s in statuses.items()} == {
        t: ("confirmed", order_id) for t, order_id in first.confirmed.items()}


def test_order_rows_carry_the_sales_terms(make_sale, buyer_ids):
    """Each column the pipeline writes in bulk, for a deposit pre-sale (the richest terms)."""
    now = timezone.now()
    sale = make_sale(mode="deposit", deposit=Decimal("100.00"), limit=2,
                     deposit_expansion=Decimal("50.00"),
                     balance_opens_at=now + timedelta(hours=2),
                     balance_closes_at=now + timedelta(hours=3))
    [user] = buyer_ids(1)
    address = Address.objects.get(customer__user_id=user)
    ticket = services.purchase_admit(purchase=Purchase(
        sale_id=sale.pk, user_id=user, quantity=2, address_id=address.pk)).ticket
    pipeline.drain(sale_id=sale.pk)
    order = Order.objects.get(ticket=ticket)
    assert (order.user_id, order.address_id, order.sale_id) == (user, address.pk, sale.pk)
    assert (order.status, order.total, order.deposit, order.balance_due) == (
        "awaiting_deposit", Decimal("3998.00"), Decimal("200.00"), Decimal("3698.00"))
    assert order.payment_due_at == order.created_at + sale.deposit_window
    assert (order.balance_opens_at, order.balance_due_at) == (sale.balance_opens_at,
                                                              sale.balance_closes_at)
    assert len(order.number) == 18 and order.number[:6] == f"{order.created_at:%y%m%d}"
    [line] = order.lines.all()
    assert (line.sku_id, line.quantity, line.unit_price) == (sale.sku_id, 2, sale.price)
