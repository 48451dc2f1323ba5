"""Feeding the anti-scalper module: attempts recorded by the gate, and risk on admissions.

The admission script appends every decided attempt to the sale's `attempts` stream at no
extra round trip. A Celery task drains it into antiscalper's counters and tables and scores
the admitted ones, beside the order pipeline rather than inside it (DESIGN: "before or right
after the order is written"): a blocked ticket still queued is rejected by the pipeline, and
a blocked ticket already written loses its order; either way its unit goes back to the gate.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.db.models import F

from antiscalper.attempts import Attempt, attempts_record
from antiscalper.bulk import Within
from antiscalper.models import RiskDecision
from antiscalper.risk import risk_evaluate
from core.http import client_parse
from sales import bulk
from sales.gate import keys as gate_keys
from sales.gate.keys import SaleKeys
from sales.models import FlashSale, Reservation, sale_lock
from sales.services import orders_cancel_for_risk
from shop.models import Order

logger = logging.getLogger("flashsale.risk_feed")

SIGNALS_GROUP = "signals"


def attempts_of(sale: FlashSale, entries: list[tuple[str, dict[str, str]]]) -> list[Attempt]:
    """A batch of stream entries as attempts, as the anti-scalper module describes them:
    whether each account reserved (one query), each client's JSON parsed once (a rush's
    attempts come from a few clients)."""
    reserved = set(Reservation.objects.filter(
        Within(F("user_id"), sorted({int(fields["user"]) for _, fields in entries})),
        sale=sale).values_list("user_id", flat=True))
    opens_ms, clients = gate_keys.epoch_ms(sale.starts_at), {}
    attempts = []
    for _, fields in entries:
        raw = fields.get("client", "")
        if raw not in clients:
            clients[raw] = client_parse(raw)
        user_agent, headers = clients[raw]
        user_id = int(fields["user"])
        attempts.append(Attempt(
            sale_id=sale.pk, user_id=user_id,
            kind="fcode" if fields.get("fcode") == "1" else "purchase", at_ms=int(fields["at"]),
            opens_ms=opens_ms, device=fields.get("device", ""), ip=fields.get("ip", ""),
            user_agent=user_agent, headers=headers, reserved=user_id in reserved,
            verdict=fields.get("verdict", "admitted"), ticket=fields.get("ticket", ""),
            address_id=int(fields["address"]) if fields.get("address") else None))
    return attempts


def _risk(sale: FlashSale, attempts: list[Attempt]) -> set[str]:
    """Score admitted attempts; the tickets blocked. An engine failure blocks nothing (the
    gate's blacklist still held) and is logged: an outage must not stop a sale."""
    admitted = [a for a in attempts if a.ticket]
    if not admitted:
        return set()
    try:
        with transaction.atomic():
            decisions = risk_evaluate(attempts=admitted)
    except Exception:  # noqa: BLE001 - fail open on the risk engine, loudly
        logger.exception("risk engine failed on attempts of sale %s; admitting them", sale.pk)
        return set()
    return {ticket for ticket, decision in decisions.items() if decision.decision == "block"}


def blocked_tickets(*, sale_id: int, tickets: list[str]) -> set[str]:
    """Tickets of a batch the risk engine has already blocked (the pipeline rejects them)."""
    return {ticket for (ticket,) in bulk.values_for(
        RiskDecision, "ticket", tickets, (), sale_id=sale_id, decision="block")}


def attempts_streams(sale: FlashSale) -> list[str]:
    """The sale's attempts streams: its own (the sold-out memo's attempts) and, for a sale of
    several buckets, each bucket's."""
    streams = [SaleKeys(sale.pk).attempts]
    if sale.shards > 1:
        streams += [keys.attempts for keys in gate_keys.bucket_keys(sale.pk, sale.shards)]
    return streams


def attempts_drain(*, sale_id: int, batch: int = 2000, consumer: str = "signals",
                   time_budget: float = 5.0) -> int:
    """Move the gate's recorded attempts of one sale into the anti-scalper signals."""
    sale = FlashSale.objects.get(pk=sale_id)
    client, moved = gate_keys.connection(), 0
    for stream in attempts_streams(sale):
        lock = client.lock(f"{stream}:drain", timeout=time_budget + 30, blocking=False)
        if not lock.acquire():
            continue  # another worker is draining this stream
        try:
            moved += _drain_attempts(sale, client, stream, batch, consumer, time_budget)
        finally:
            lock.release()
    return moved


def blocked_orders_cancel(*, sale_id: int, tickets: list[str]) -> int:
    """Tickets already written as orders lose them; the rest the pipeline rejects. The sale's
    row lock waits for a pipeline batch in flight, which checked the decisions before they
    existed and is about to write those orders. It is only waited for, not held: each
    cancellation then runs in its own transaction (the order's row, then the sale's counters),
    the lock order every other path takes, so it cannot deadlock with an expiry sweep."""
    with transaction.atomic():
        sale_lock(sale_id)
    users = list(Order.objects.filter(sale_id=sale_id, ticket__in=tickets)
                 .values_list("user_id", flat=True))
    if not users:
        return 0
    return orders_cancel_for_risk(sale_id=sale_id, user_ids=users, tickets=tickets)


def _read(client, stream: str, batch: int, consumer: str) -> list:
    """Entries this consumer was handed and never acknowledged (it died), else new ones."""
    read = client.xreadgroup(SIGNALS_GROUP, consumer, {stream: "0"}, count=batch) or []
    entries = read[0][1] if read else []
    if not entries:
        read = client.xreadgroup(SIGNALS_GROUP, consumer, {stream: ">"}, count=batch) or []
        entries = read[0][1] if read else []
    return entries


def _ack(client, stream: str, ids: list[str]) -> None:
    done = client.pipeline(transaction=True)  # both or neither, as in the pipeline
    done.xack(stream, SIGNALS_GROUP, *ids)
    done.xdel(stream, *ids)
    done.execute()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A batch allocates some hundred thousand short-lived objects and keeps none in a cycle:
    reference counting frees them, while the cyclic collector, triggered by the allocations,
    would walk the worker's whole heap a few times per batch (a quarter of the CPU in bench
    --risk-only). It runs again as soon as the batch is done."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _drain_attempts(sale: FlashSale, client, stream: str, batch: int, consumer: str,
                    time_budget: float) -> int:
    gate_keys.ensure_group(stream, SIGNALS_GROUP)
    moved, deadline = 0, time.monotonic() + time_budget
    while time.monotonic() < deadline:
        with _collector_paused():
            entries = _read(client, stream, batch, consumer)
            if not entries:
                break
            attempts = attempts_of(sale, entries)
            attempts_record(attempts=attempts)
            blocked = _risk(sale, attempts)
            if blocked:
                blocked_orders_cancel(sale_id=sale.pk, tickets=list(blocked))
            _ack(client, stream, [stream_id for stream_id, _ in entries])
            moved += len(entries)
    return moved
