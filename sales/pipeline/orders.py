"""The order pipeline: Celery workers turn the gate's queued tickets into orders, in batches.

Each sale's queue is a Redis stream read through a consumer group. A batch is written in one
transaction with bulk inserts, then acknowledged and deleted. A worker that dies after
reading leaves its entries pending; another worker claims them after MIN_IDLE_MS and, because
`Order.ticket` is unique and already-written tickets are skipped, writes each exactly once.
An entry delivered MAX_DELIVERIES times without success is rejected (its unit goes back),
so a poison message cannot loop forever.

The database holds the line whatever Redis says (`guard.guard`): under the sale's row lock every
batch is checked against the sale's own counters (`FlashSale.units_taken`), each buyer's
per-user limit and each F-code's row. A Redis that came back older than what it acknowledged
may admit units that are already sold; those tickets end `rejected` (`sold_out`,
`limit_reached`, `fcode_invalid`), and the gate is rebuilt from the database at once.

A worker takes three steps per batch, `batch_read`, `batch_write` (the one transaction) and
`batch_publish` (after commit), and `drain` is only the loop over them. They are public so
that a worker's death between any two of them can be staged by running the steps before it
and stopping: the crash points the fault tests and the chaos run exercise.

The parts: `queue` (reading and claiming the stream), `guard` (the database's word on a
batch), `writes` (the bulk writes of one transaction), `publish` (what Redis hears after).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
from django.db import IntegrityError, transaction
from django.utils import timezone

from antiscalper.arrivals import participants_mark
from sales import services
from sales.gate.keys import SaleKeys, bucket_keys
from sales.models import FlashSale, sale_lock
from sales.pipeline import guard, linking_feed, publish, queue, writes
from sales.pipeline.queue import MAX_DELIVERIES, MIN_IDLE_MS, Batch, Entry, batch_read

# The three steps and the loop, with what their callers name: the fault tests stage a
# worker's death between any two steps.
__all__ = ["MAX_DELIVERIES", "MIN_IDLE_MS", "STALE_GATE_REASONS", "Batch", "Entry", "Outcome",
           "batch_publish", "batch_read", "batch_write", "drain"]

logger = logging.getLogger("flashsale.pipeline")

# Refusals of the database's guard: a gate admitted what the record cannot hold, so that gate
# was stale. The report counts them as "admitted by a stale gate".
STALE_GATE_REASONS = ("sold_out", "limit_reached", "fcode_invalid")
# Rejections whose units do not go back through a release: a lost gate's tickets were never
# counted by the gate live now, and a stale gate's phantom units are corrected by a rebuild.
NOT_RELEASED = (*services.NEVER_COUNTED, *STALE_GATE_REASONS)


@dataclass
class Outcome:
    confirmed: dict[str, int]        # ticket -> order id
    rejected: dict[str, str]         # ticket -> reason
    released: list[Entry]            # entries whose units go back to the gate
    stale_gate: bool = False         # the guard refused tickets: the gate must be corrected


def batch_write(*, sale: FlashSale, batch: Batch) -> Outcome:
    """Step 2, one transaction: skip tickets already decided, reject what cannot be an order,
    bulk insert the rest. Holds the sale's row lock so a gate rebuild cannot interleave.
    Safe to repeat for the same batch: a second write changes nothing and says the same.
    Tickets of accounts linking blocked in the sale (before it opened, or since) are
    rejected `risk_blocked` here, as the risk engine's own blocks are."""
    entries, poison = batch.entries, batch.poison
    now = timezone.now()
    with transaction.atomic():
        sale = sale_lock(sale.pk)
        settled = guard.settled_find(sale.pk, [e.ticket for e in entries + poison])
        todo = [e for e in entries if e.ticket not in settled]
        linked = linking_feed.blocked_accounts(sale_id=sale.pk,
                                               user_ids={e.user_id for e in todo})
        candidates, rejects = guard.screen(
            sale, todo, settled.blocked | {e.ticket for e in todo if e.user_id in linked})
        rejects = [(e, guard.poison_reason(sale, e)) for e in poison
                   if e.ticket not in settled] + rejects
        accepted, refused = guard.guard(sale, candidates)
        rejects += refused
        order_ids = writes.orders_insert(sale, accepted, now)
        writes.counters_move(sale, accepted)
        writes.fcodes_spend(accepted, order_ids)
        writes.rejections_insert(sale, rejects, now)
    done_rejected = settled.rejected
    # Units of a stale epoch were never counted by the rebuilt gate, and a stale gate's
    # phantom units are corrected by its rebuild: neither goes back by a release.
    # Tickets rejected by an earlier delivery of this batch are released again: releases are
    # once per ticket, so one lost to a crash before it reached Redis is applied now.
    released = [e for e, reason in rejects if reason not in NOT_RELEASED] + [
        e for e in entries + poison
        if done_rejected.get(e.ticket) is not None
        and done_rejected[e.ticket] not in NOT_RELEASED]
    return Outcome(
        confirmed={**settled.confirmed, **order_ids},
        rejected={**done_rejected, **{e.ticket: reason for e, reason in rejects}},
        released=released,
        stale_gate=bool(refused) or any(
            done_rejected.get(e.ticket) in STALE_GATE_REASONS for e in entries + poison))


def batch_publish(*, batch: Batch, outcome: Outcome) -> None:
    """Step 3, after commit: tell the tickets, give rejected units back, acknowledge and
    delete; then, if the guard refused tickets, correct the gate."""
    publish.statuses_publish(sale_id=batch.sale_id, confirmed=outcome.confirmed,
                             rejected=outcome.rejected, processed=len(batch.stream_ids),
                             bucket=batch.bucket)
    publish.units_release(sale_id=batch.sale_id, entries=outcome.released)
    # Buyers are linked again (a reviewed ring member who now holds an order is blocked).
    participants_mark(sale_id=batch.sale_id, user_ids={
        e.user_id for e in batch.entries if e.ticket in outcome.confirmed})
    queue.batch_done(sale_id=batch.sale_id, stream_ids=batch.stream_ids, bucket=batch.bucket)
    if outcome.stale_gate:
        publish.gate_correct(sale_id=batch.sale_id)


def drain(*, sale_id: int, batch: int = 500, consumer: str | None = None,
          time_budget: float = 5.0, min_idle_ms: int = MIN_IDLE_MS) -> int:
    """Write queued tickets of one sale as orders until its queues are empty or time is up:
    a batch from each bucket's queue in turn (a sale of one bucket has one queue).

    Returns how many queue entries were settled (confirmed or rejected).
    """
    consumer = consumer or queue.consumer_name()
    sale = FlashSale.objects.get(pk=sale_id)
    every = bucket_keys(sale_id, sale.shards)
    settled, deadline = 0, time.monotonic() + time_budget
    done: set[int] = set()
    while time.monotonic() < deadline and len(done) < len(every):
        for k, keys in enumerate(every):
            if k in done or time.monotonic() >= deadline:
                continue
            settled_here = _drain_once(sale, keys if len(every) > 1 else None, consumer,
                                       batch, min_idle_ms)
            if not settled_here:
                done.add(k)
            settled += settled_here
    return settled


def _drain_once(sale: FlashSale, bucket: SaleKeys | None, consumer: str, batch: int,
                min_idle_ms: int) -> int:
    """One batch of one queue, read, written and published; the entries settled (0: none)."""
    try:
        held = batch_read(sale_id=sale.pk, consumer=consumer, count=batch,
                          min_idle_ms=min_idle_ms, bucket=bucket)
    except redis.ResponseError as error:
        if "NOGROUP" in str(error):
            return 0  # the gate is gone (Redis lost): nothing to drain until rebuilt
        raise
    if not held:
        return 0
    for attempt in range(3):
        try:
            outcome = batch_write(sale=sale, batch=held)
            break
        except IntegrityError:
            # Another worker wrote some of these tickets a moment ago: re-read and skip them.
            logger.warning("ticket conflict in sale %s, retry %s", sale.pk, attempt + 1)
    else:
        raise RuntimeError(f"could not settle a batch of sale {sale.pk}")
    batch_publish(batch=held, outcome=outcome)
    return len(held.stream_ids)
