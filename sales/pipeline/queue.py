"""A sale's queue as the pipeline reads it: the gate's admissions, one stream entry each.

Read through a consumer group, one queue per bucket of the sale (`sales.gate.keys`). A worker
that dies after reading leaves its entries pending; another worker claims them after
MIN_IDLE_MS. An entry delivered MAX_DELIVERIES times without
success is poison: it is only to be rejected (its unit goes back), so it cannot loop forever.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from sales.gate import keys as gate_keys
from sales.gate.keys import PIPELINE_GROUP, SaleKeys

MIN_IDLE_MS = 30_000
MAX_DELIVERIES = 5


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


@dataclass(frozen=True)
class Batch:
    """What one worker holds in flight after one read of a sale's queue: its entries, and
    the poison ones (delivered too often) that are only to be rejected."""

    sale_id: int
    entries: list[Entry]
    poison: list[Entry]
    bucket: SaleKeys | None = None  # the bucket whose queue it was read from (None: the sale's)

    @property
    def keys(self) -> SaleKeys:
        return self.bucket or SaleKeys(self.sale_id)

    @property
    def stream_ids(self) -> list[str]:
        return [e.stream_id for e in self.entries + self.poison]

    def __bool__(self) -> bool:
        return bool(self.entries or self.poison)


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def batch_read(*, sale_id: int, consumer: str, count: int, min_idle_ms: int = MIN_IDLE_MS,
               bucket: SaleKeys | None = None) -> Batch:
    """Step 1: claim stale entries of dead consumers first (with their delivery counts),
    else read new ones, from the queue of `bucket` (default: the sale's only one). Raises
    redis.ResponseError NOGROUP when the gate is gone."""
    keys = bucket or SaleKeys(sale_id)
    good, poison = _read(keys.queue, consumer, count, min_idle_ms)
    return Batch(sale_id=sale_id, entries=[Entry.parse(sid, fields) for sid, fields in good],
                 poison=[Entry.parse(sid, fields) for sid, fields in poison], bucket=bucket)


def _read(queue: str, consumer: str, count: int, min_idle_ms: int) -> tuple[list, list]:
    client = gate_keys.connection()
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


def batch_done(*, sale_id: int, stream_ids: list[str], bucket: SaleKeys | None = None) -> None:
    """Acknowledge and delete a settled batch's entries in one MULTI: a worker killed between
    the two would leave entries no consumer ever sees again (not pending), counted in the
    queue forever. (On a cluster too: both commands name the one queue, one slot.)"""
    queue = (bucket or SaleKeys(sale_id)).queue
    done = gate_keys.connection().pipeline(transaction=True)
    done.xack(queue, PIPELINE_GROUP, *stream_ids)
    done.xdel(queue, *stream_ids)
    done.execute()
