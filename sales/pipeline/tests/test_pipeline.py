"""The order pipeline: exactly one order per ticket, through crashes and redeliveries."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest
from django.db import connections

from sales import services
from sales.gate import admission
from sales.gate import keys as gate_keys
from sales.gate.admission import Purchase
from sales.gate.keys import PIPELINE_GROUP, SaleKeys
from sales.models import RejectedTicket
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
    assert _pending(sale) == 0 and admission.state(sale_id=sale.pk).queued == 0


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
    left = admission.stock_left(sale_id=live_sale.pk)

    def broken(*args, **kwargs):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(pipeline, "batch_write", broken)
    for _ in range(pipeline.MAX_DELIVERIES):
        with pytest.raises(RuntimeError):
            pipeline.drain(sale_id=live_sale.pk, min_idle_ms=0)
    monkeypatch.undo()
    pipeline.drain(sale_id=live_sale.pk, min_idle_ms=0)

    assert RejectedTicket.objects.get(ticket=ticket).reason == "undeliverable"
    assert admission.stock_left(sale_id=live_sale.pk) == left + 1
    assert _pending(live_sale) == 0


def test_a_ticket_with_someone_elses_address_is_rejected_and_its_unit_returned(
        live_sale, buyer_ids):
    mine, theirs = buyer_ids(2)
    foreign = Address.objects.get(customer__user_id=theirs)
    [ticket] = _admit_all(live_sale, [mine], address_id=foreign.pk)
    pipeline.drain(sale_id=live_sale.pk)
    assert RejectedTicket.objects.get(ticket=ticket).reason == "address_invalid"
    assert admission.stock_left(sale_id=live_sale.pk) == live_sale.stock
    assert not Order.objects.filter(ticket=ticket).exists()
