"""Feeding the anti-scalper module: attempts recorded by the gate, and risk on admissions.

The admission script appends every decided attempt to the sale's `attempts` stream at no
extra round trip. A Celery task drains it into antiscalper's counters and tables and scores
the admitted ones, beside the order pipeline rather than inside it (DESIGN: "before or right
after the order is written"): a blocked ticket still queued is rejected by the pipeline, and
a blocked ticket already written loses its order; either way its unit goes back to the gate.
"""

from __future__ import annotations

import logging
import time

from django.db import transaction

from antiscalper.attempts import Attempt, attempts_record
from antiscalper.models import RiskDecision
from antiscalper.risk import risk_evaluate
from core.http import client_parse
from sales import bulk
from sales.gate import keys as gate_keys
from sales.gate.keys import SaleKeys
from sales.models import FlashSale, Reservation
from sales.services import orders_cancel_for_risk
from shop.models import Order

logger = logging.getLogger("flashsale.signals")

SIGNALS_GROUP = "signals"


def attempt_of(sale: FlashSale, fields: dict[str, str], reserved: set[int]) -> Attempt:
    """An attempt as the anti-scalper module describes it, from a stream entry's fields."""
    user_agent, headers = client_parse(fields.get("client", ""))
    user_id = int(fields["user"])
    return Attempt(
        sale_id=sale.pk, user_id=user_id, kind="fcode" if fields.get("fcode") else "purchase",
        at_ms=int(fields["at"]), opens_ms=gate_keys.epoch_ms(sale.starts_at),
        device=fields.get("device", ""), ip=fields.get("ip", ""), user_agent=user_agent,
        headers=headers, reserved=user_id in reserved,
        verdict=fields.get("verdict", "admitted"), ticket=fields.get("ticket", ""),
        address_id=int(fields["address"]) if fields.get("address") else None,
    )


def _reserved(sale: FlashSale, users: set[int]) -> set[int]:
    return set(Reservation.objects.filter(sale=sale, user_id__in=users)
               .values_list("user_id", flat=True))


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


def attempts_drain(*, sale_id: int, batch: int = 2000, consumer: str = "signals",
                   time_budget: float = 5.0) -> int:
    """Move the gate's recorded attempts of one sale into the anti-scalper signals."""
    sale = FlashSale.objects.get(pk=sale_id)
    client, stream = gate_keys.connection(), SaleKeys(sale_id).attempts
    lock = client.lock(f"{stream}:drain", timeout=time_budget + 30, blocking=False)
    if not lock.acquire():
        return 0  # another worker is draining this sale's attempts
    try:
        return _drain_attempts(sale, client, stream, batch, consumer, time_budget)
    finally:
        lock.release()


def blocked_orders_cancel(*, sale_id: int, tickets: list[str]) -> int:
    """Tickets already written as orders lose them; the rest the pipeline rejects. The sale's
    row lock waits for a pipeline batch in flight, which checked the decisions before they
    existed and is about to write those orders. It is only waited for, not held: each
    cancellation then runs in its own transaction (the order's row, then the sale's counters),
    the lock order every other path takes, so it cannot deadlock with an expiry sweep."""
    with transaction.atomic():
        FlashSale.objects.select_for_update().get(pk=sale_id)
    users = list(Order.objects.filter(sale_id=sale_id, ticket__in=tickets)
                 .values_list("user_id", flat=True))
    if not users:
        return 0
    return orders_cancel_for_risk(sale_id=sale_id, user_ids=users, tickets=tickets)


def _drain_attempts(sale: FlashSale, client, stream: str, batch: int, consumer: str,
                    time_budget: float) -> int:
    gate_keys.ensure_group(stream, SIGNALS_GROUP)
    moved, deadline = 0, time.monotonic() + time_budget
    while time.monotonic() < deadline:
        read = client.xreadgroup(SIGNALS_GROUP, consumer, {stream: "0"}, count=batch) or []
        entries = read[0][1] if read else []
        if not entries:
            read = client.xreadgroup(SIGNALS_GROUP, consumer, {stream: ">"}, count=batch) or []
            entries = read[0][1] if read else []
        if not entries:
            break
        reserved = _reserved(sale, {int(fields["user"]) for _, fields in entries})
        attempts = [attempt_of(sale, fields, reserved) for _, fields in entries]
        attempts_record(attempts=attempts)
        blocked = _risk(sale, attempts)
        if blocked:
            blocked_orders_cancel(sale_id=sale.pk, tickets=list(blocked))
        ids = [stream_id for stream_id, _ in entries]
        done = client.pipeline(transaction=True)  # both or neither, as in the pipeline
        done.xack(stream, SIGNALS_GROUP, *ids)
        done.xdel(stream, *ids)
        done.execute()
        moved += len(entries)
    return moved
