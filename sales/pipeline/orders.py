"""The order pipeline: Celery workers turn the gate's queued tickets into orders, in batches.

Each sale's queue is a Redis stream read through a consumer group. A batch is written in one
transaction with bulk inserts, then acknowledged and deleted. A worker that dies after
reading leaves its entries pending; another worker claims them after MIN_IDLE_MS and, because
`Order.ticket` is unique and already-written tickets are skipped, writes each exactly once.
An entry delivered MAX_DELIVERIES times without success is rejected (its unit goes back),
so a poison message cannot loop forever.

The database holds the line whatever Redis says (`_guard`): under the sale's row lock every
batch is checked against the sale's own counters (`FlashSale.units_taken`), each buyer's
per-user limit and each F-code's row. A Redis that came back older than what it acknowledged
may admit units that are already sold; those tickets end `rejected` (`sold_out`,
`limit_reached`, `fcode_invalid`), and the gate is rebuilt from the database at once.

A worker takes three steps per batch, `batch_read`, `batch_write` (the one transaction) and
`batch_publish` (after commit), and `drain` is only the loop over them. They are public so
that a worker's death between any two of them can be staged by running the steps before it
and stopping: the crash points the fault tests and the chaos run exercise.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import redis
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from antiscalper.models import RiskDecision
from sales import bulk, services
from sales.gate import keys as gate_keys
from sales.gate import ops as gate_ops
from sales.gate.keys import PIPELINE_GROUP, TICKET_TTL_SECONDS, SaleKeys, epoch_ms
from sales.models import FCode, FlashSale, RejectedTicket, SaleBuyer, SaleMode
from sales.pipeline.risk_feed import blocked_tickets
from shop.models import Address, Customer, Order, OrderLine, OrderStatus
from shop.services import order_numbers_new

logger = logging.getLogger("flashsale.pipeline")

MIN_IDLE_MS = 30_000
MAX_DELIVERIES = 5
# Refusals of the database's guard: a gate admitted what the record cannot hold, so that gate
# was stale. The report counts them as "admitted by a stale gate".
STALE_GATE_REASONS = ("sold_out", "limit_reached", "fcode_invalid")
# Rejections whose units do not go back through a release: a lost gate's tickets were never
# counted by the gate live now, and a stale gate's phantom units are corrected by a rebuild.
NOT_RELEASED = (*services.NEVER_COUNTED, *STALE_GATE_REASONS)


@dataclass(slots=True)
class Entry:
    """One queued admission. Not frozen: a frozen dataclass sets each field through
    object.__setattr__, and a batch makes a thousand of these."""

    stream_id: str
    ticket: str
    user_id: int
    quantity: int
    epoch: int
    address_id: int | None
    fcode: str = ""
    fields: dict | None = None
    admitted_ms: int = 0

    @classmethod
    def parse(cls, stream_id: str, fields: dict[str, str]) -> Entry:
        return cls(
            stream_id=stream_id, ticket=fields["ticket"], user_id=int(fields["user"]),
            quantity=int(fields["qty"]), epoch=int(fields["epoch"]),
            address_id=int(fields["address"]) if fields.get("address") else None,
            fcode=fields.get("fcode", ""), fields=fields, admitted_ms=int(fields.get("at") or 0),
        )


@dataclass
class Outcome:
    confirmed: dict[str, int]        # ticket -> order id
    rejected: dict[str, str]         # ticket -> reason
    released: list[Entry]            # entries whose units go back to the gate
    stale_gate: bool = False         # the guard refused tickets: the gate must be corrected


@dataclass(frozen=True)
class Batch:
    """What one worker holds in flight after one read of a sale's queue: its entries, and
    the poison ones (delivered too often) that are only to be rejected."""

    sale_id: int
    entries: list[Entry]
    poison: list[Entry]

    @property
    def stream_ids(self) -> list[str]:
        return [e.stream_id for e in self.entries + self.poison]

    def __bool__(self) -> bool:
        return bool(self.entries or self.poison)


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def batch_read(*, sale_id: int, consumer: str, count: int, min_idle_ms: int = MIN_IDLE_MS,
               ) -> Batch:
    """Step 1: claim stale entries of dead consumers first (with their delivery counts),
    else read new ones. Raises redis.ResponseError NOGROUP when the gate is gone."""
    good, poison = _read(sale_id, consumer, count, min_idle_ms)
    return Batch(sale_id=sale_id, entries=[Entry.parse(sid, fields) for sid, fields in good],
                 poison=[Entry.parse(sid, fields) for sid, fields in poison])


def _read(sale_id: int, consumer: str, count: int, min_idle_ms: int) -> tuple[list, list]:
    client, queue = gate_keys.connection(), SaleKeys(sale_id).queue
    stale = client.xpending_range(queue, PIPELINE_GROUP, min="-", max="+", count=count,
                                  idle=min_idle_ms)
    if stale:
        ids = [item["message_id"] for item in stale]
        claimed = client.xclaim(queue, PIPELINE_GROUP, consumer, min_idle_ms, ids)
        deliveries = {item["message_id"]: item["times_delivered"] for item in stale}
        poison = [(sid, f) for sid, f in claimed if f and deliveries[sid] >= MAX_DELIVERIES]
        good = [(sid, f) for sid, f in claimed if f and deliveries[sid] < MAX_DELIVERIES]
        gone = [sid for sid, f in claimed if not f]
        if gone:
            client.xack(queue, PIPELINE_GROUP, *gone)
        if good or poison:
            return good, poison
    fresh = client.xreadgroup(PIPELINE_GROUP, consumer, {queue: ">"}, count=count)
    return (fresh[0][1] if fresh else []), []


def _taken_by(sale: FlashSale, user_ids: set[int]) -> dict[int, int]:
    """Units these buyers hold in the sale by the database's count (`SaleBuyer`)."""
    return dict(bulk.values_for(SaleBuyer, "user_id", sorted(user_ids), ("units_taken",),
                                sale_id=sale.pk))


def _guard(sale: FlashSale, entries: list[Entry]) -> tuple[list[Entry], list[tuple[Entry, str]]]:
    """The database's word on what the gate admitted, in admission order, under the sale's
    row lock: stock and F-code quota by the sale's counters, the per-user limit by each
    buyer's counter (`SaleBuyer`), and each code by its row (owned, unspent, not lapsed, not
    expired when admitted). Returns (entries that may become orders, refusals with their
    reason)."""
    free_open = sale.open_stock - (sale.units_taken - sale.fcode_units_taken)
    free_fcode = sale.fcode_quota - sale.fcode_units_taken
    free = sale.stock - sale.units_taken  # and both paths together within the stock
    taken = _taken_by(sale, {e.user_id for e in entries})
    wanted = {e.fcode for e in entries if e.fcode}
    codes = {c.code_hash: c for c in FCode.objects.filter(
        sale_id=sale.pk, code_hash__in=wanted)} if wanted else {}
    spent: set[str] = set()
    accepted: list[Entry] = []
    refused: list[tuple[Entry, str]] = []
    for e in entries:
        if taken.get(e.user_id, 0) + e.quantity > sale.per_user_limit:
            refused.append((e, "limit_reached"))
            continue
        if e.fcode:
            code = codes.get(e.fcode)
            if (code is None or code.user_id != e.user_id or code.order_id is not None
                    or code.lapsed_at is not None or e.fcode in spent
                    or (e.admitted_ms and epoch_ms(code.expires_at) <= e.admitted_ms)):
                refused.append((e, "fcode_invalid"))
                continue
            if free_fcode < e.quantity or free < e.quantity:
                refused.append((e, "sold_out"))
                continue
            free_fcode -= e.quantity
            spent.add(e.fcode)
        else:
            if free_open < e.quantity or free < e.quantity:
                refused.append((e, "sold_out"))
                continue
            free_open -= e.quantity
        free -= e.quantity
        taken[e.user_id] = taken.get(e.user_id, 0) + e.quantity
        accepted.append(e)
    return accepted, refused


@dataclass(frozen=True)
class Settled:
    """What the record already says about a batch's tickets: decided by an earlier delivery
    of them, or blocked by the risk engine since they were admitted."""

    confirmed: dict[str, int]  # ticket -> order id
    rejected: dict[str, str]   # ticket -> reason
    blocked: set[str]

    def __contains__(self, ticket: str) -> bool:
        return ticket in self.confirmed or ticket in self.rejected


def _settled(sale_id: int, tickets: list[str]) -> Settled:
    """One query on PostgreSQL (the tickets sent once, as one binary array), three elsewhere."""
    if not bulk.on_postgresql():
        return Settled(
            confirmed=dict(bulk.values_for(Order, "ticket", tickets, ("id",))),
            rejected=dict(bulk.values_for(RejectedTicket, "ticket", tickets, ("reason",))),
            blocked=blocked_tickets(sale_id=sale_id, tickets=tickets))
    found: dict[str, dict] = {"order": {}, "rejected": {}, "blocked": {}}
    with bulk.pg_cursor() as cursor:
        cursor.execute(
            f"SELECT 'order', ticket, id::text FROM {Order._meta.db_table} "
            "WHERE ticket = ANY(%(tickets)b::varchar[]) "
            f"UNION ALL SELECT 'rejected', ticket, reason FROM {RejectedTicket._meta.db_table} "
            "WHERE ticket = ANY(%(tickets)b::varchar[]) "
            f"UNION ALL SELECT 'blocked', ticket, '' FROM {RiskDecision._meta.db_table} "
            "WHERE sale_id = %(sale)b AND decision = 'block' "
            "AND ticket = ANY(%(tickets)b::varchar[])",
            {"tickets": tickets, "sale": sale_id})
        for kind, ticket, value in cursor:
            found[kind][ticket] = value
    return Settled(confirmed={t: int(i) for t, i in found["order"].items()},
                   rejected=found["rejected"], blocked=set(found["blocked"]))


def _screen(sale: FlashSale, todo: list[Entry], blocked: set[str],
            ) -> tuple[list[Entry], list[tuple[Entry, str]]]:
    """What the gate could not know: tickets the risk engine blocked, tickets of a gate since
    rebuilt (another epoch), addresses that are not the buyer's. Returns (candidates for the
    guard, rejections)."""
    owned = _addresses_owned(todo)
    candidates: list[Entry] = []
    rejects: list[tuple[Entry, str]] = []
    for e in todo:
        if e.ticket in blocked:
            rejects.append((e, "risk_blocked"))
        elif e.epoch != sale.gate_epoch:
            rejects.append((e, "gate_rebuilt"))
        elif e.address_id and (e.address_id, e.user_id) not in owned:
            rejects.append((e, "address_invalid"))
        else:
            candidates.append(e)
    return candidates, rejects


def _addresses_owned(entries: list[Entry]) -> set[tuple[int, int]]:
    """(address, user) for the batch's addresses: an entry may use only its buyer's own."""
    ids = sorted({e.address_id for e in entries if e.address_id})
    customer_of = dict(bulk.values_for(Address, "pk", ids, ("customer_id",)))
    user_of = dict(bulk.values_for(Customer, "pk", sorted(set(customer_of.values())),
                                   ("user_id",)))
    return {(address, user_of[customer]) for address, customer in customer_of.items()}


def batch_write(*, sale: FlashSale, batch: Batch) -> Outcome:
    """Step 2, one transaction: skip tickets already decided, reject what cannot be an order,
    bulk insert the rest. Holds the sale's row lock so a gate rebuild cannot interleave.
    Safe to repeat for the same batch: a second write changes nothing and says the same."""
    entries, poison = batch.entries, batch.poison
    now = timezone.now()
    with transaction.atomic():
        sale = FlashSale.objects.select_for_update().get(pk=sale.pk)
        settled = _settled(sale.pk, [e.ticket for e in entries + poison])
        candidates, rejects = _screen(sale, [e for e in entries if e.ticket not in settled],
                                      settled.blocked)
        rejects = [(e, "undeliverable") for e in poison if e.ticket not in settled] + rejects
        accepted, refused = _guard(sale, candidates)
        rejects += refused
        order_ids = _orders_insert(sale, accepted, now)
        _counters_move(sale, accepted)
        _fcodes_spend(accepted, order_ids)
        bulk.insert(RejectedTicket, [
            {"ticket": e.ticket, "sale_id": sale.pk, "user_id": e.user_id, "quantity": e.quantity,
             "reason": reason, "created_at": now} for e, reason in rejects
        ])
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


# The columns the pipeline writes, in the order of the rows `_order_rows` builds.
ORDER_COLUMNS = ("number", "user_id", "address_id", "ticket", "total", "deposit", "balance_due",
                 "status", "payment_due_at", "balance_opens_at", "balance_due_at", "sale_id",
                 "created_at", "updated_at")
LINE_COLUMNS = ("order_id", "sku_id", "quantity", "unit_price")


def _orders_insert(sale: FlashSale, accepted: list[Entry], now) -> dict[str, int]:
    """Each accepted entry's order and its one line, in two bulk inserts; ticket -> order id.
    A ticket written meanwhile by another worker is a unique violation: the batch rolls back
    and `drain` retries it, skipping what is settled."""
    ids = bulk.insert_rows(Order, ORDER_COLUMNS, _order_rows(sale, accepted, now), ids=True)
    bulk.insert_rows(OrderLine, LINE_COLUMNS, [
        (order_id, sale.sku_id, e.quantity, sale.price)
        for order_id, e in zip(ids, accepted, strict=True)])
    return {e.ticket: order_id for e, order_id in zip(accepted, ids, strict=True)}


def _order_rows(sale: FlashSale, entries: list[Entry], now) -> list[tuple]:
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


def _counters_move(sale: FlashSale, accepted: list[Entry]) -> None:
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


def _fcodes_spend(accepted: list[Entry], order_ids: dict[str, int]) -> None:
    """Each code (or right) an order used is spent on that order."""
    for e in accepted:
        if e.fcode:
            FCode.objects.filter(code_hash=e.fcode, order__isnull=True).update(
                order_id=order_ids[e.ticket])


def batch_publish(*, batch: Batch, outcome: Outcome) -> None:
    """Step 3, after commit: tell the tickets, give rejected units back, acknowledge and
    delete; then, if the guard refused tickets, correct the gate."""
    _publish(batch.sale_id, outcome, batch.stream_ids)
    if outcome.stale_gate:
        _correct(batch.sale_id)


# Each ticket's status in one call: KEYS[1] the processed counter, then the tickets, the
# confirmed first; ARGV: TTL, how many are confirmed, the count processed, then each ticket's
# order id or reason. The same writes as a pipeline of HSET and EXPIRE per ticket, without
# redis-py packing and parsing two commands per ticket (about 20 us of the worker's CPU a
# ticket, measured) and with less of Redis's own time.
_PUBLISH_LUA = """
local ttl, confirmed = ARGV[1], tonumber(ARGV[2])
redis.call('INCRBY', KEYS[1], ARGV[3])
for i = 2, #KEYS do
  if i - 1 <= confirmed then
    redis.call('HSET', KEYS[i], 'status', 'confirmed', 'order', ARGV[i + 2])
  else
    redis.call('HSET', KEYS[i], 'status', 'rejected', 'reason', ARGV[i + 2])
  end
  redis.call('EXPIRE', KEYS[i], ttl)
end
return #KEYS - 1
"""


def _statuses_publish(sale_id: int, outcome: Outcome, processed: int) -> None:
    """Tell every ticket of the batch its status (idempotent: a repeat writes the same)."""
    keys = SaleKeys(sale_id)
    tickets = [*outcome.confirmed, *outcome.rejected]
    # Registered per call (a hash of the text): the client is whatever Redis is now.
    gate_keys.connection().register_script(_PUBLISH_LUA)(
        keys=[keys.processed, *(keys.ticket(t) for t in tickets)],
        args=[TICKET_TTL_SECONDS, len(outcome.confirmed), processed,
              *outcome.confirmed.values(), *outcome.rejected.values()])


def _publish(sale_id: int, outcome: Outcome, stream_ids: list[str]) -> None:
    keys = SaleKeys(sale_id)
    _statuses_publish(sale_id, outcome, len(stream_ids))
    for entry in outcome.released:
        released = gate_ops.release(sale_id=sale_id, user_id=entry.user_id, units=entry.quantity,
                                token=f"t:{entry.ticket}", fcode=bool(entry.fcode))
        if released and entry.fcode:  # only the first release gives the code back
            gate_ops.fcode_unspend(sale_id=sale_id, code_hash=entry.fcode)
    # Acknowledged and deleted in one MULTI: a worker killed between the two would leave
    # entries no consumer ever sees again (not pending), counted in the queue forever.
    done = gate_keys.connection().pipeline(transaction=True)
    done.xack(keys.queue, PIPELINE_GROUP, *stream_ids)
    done.xdel(keys.queue, *stream_ids)
    done.execute()


def _correct(sale_id: int) -> None:
    """The gate admitted what the database refused: rebuild it from the record now, so it
    stops selling units that are gone (and gives the refused buyers their counts back)."""
    logger.error("gate of sale %s admitted beyond the database's stock: rebuilding", sale_id)
    try:
        services.gate_rebuild(sale_id=sale_id)
    except redis.RedisError:
        logger.exception("could not rebuild the gate of sale %s; reconciliation will", sale_id)


def drain(*, sale_id: int, batch: int = 500, consumer: str | None = None,
          time_budget: float = 5.0, min_idle_ms: int = MIN_IDLE_MS) -> int:
    """Write queued tickets of one sale as orders until the queue is empty or time is up.

    Returns how many queue entries were settled (confirmed or rejected).
    """
    consumer = consumer or consumer_name()
    sale = FlashSale.objects.get(pk=sale_id)
    settled, deadline = 0, time.monotonic() + time_budget
    while time.monotonic() < deadline:
        try:
            held = batch_read(sale_id=sale_id, consumer=consumer, count=batch,
                              min_idle_ms=min_idle_ms)
        except redis.ResponseError as error:
            if "NOGROUP" in str(error):
                return settled  # the gate is gone (Redis lost): nothing to drain until rebuilt
            raise
        if not held:
            break
        for attempt in range(3):
            try:
                outcome = batch_write(sale=sale, batch=held)
                break
            except IntegrityError:
                # Another worker wrote some of these tickets a moment ago: re-read and skip them.
                logger.warning("ticket conflict in sale %s, retry %s", sale_id, attempt + 1)
        else:
            raise RuntimeError(f"could not settle a batch of sale {sale_id}")
        batch_publish(batch=held, outcome=outcome)
        settled += len(held.stream_ids)
    return settled
