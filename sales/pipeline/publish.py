"""After a batch commits, Redis hears of it: each ticket's status, the units of rejected
tickets given back to the gate (once per ticket), and a gate that admitted what the database
refused is rebuilt from the record."""

from __future__ import annotations

import logging

import redis

from sales import services
from sales.gate import keys as gate_keys
from sales.gate import ops as gate_ops
from sales.gate.keys import TICKET_TTL_SECONDS, SaleKeys
from sales.pipeline.queue import Entry

logger = logging.getLogger("flashsale.pipeline")


def statuses_publish(*, sale_id: int, confirmed: dict[str, int], rejected: dict[str, str],
                     processed: int, bucket: SaleKeys | None = None) -> None:
    """Tell every ticket of a batch its status in one call of publish.lua, and count the
    batch's entries as processed, in the bucket the batch came from (its tickets' records
    live there). Idempotent: a repeat writes the same."""
    keys = bucket or SaleKeys(sale_id)
    tickets = [*confirmed, *rejected]
    gate_keys.script("publish")(
        keys=[keys.processed, *(keys.ticket(t) for t in tickets)],
        args=[TICKET_TTL_SECONDS, len(confirmed), processed,
              *confirmed.values(), *rejected.values()])


def units_release(*, sale_id: int, entries: list[Entry]) -> None:
    """Give rejected tickets' units back to the gate. Releases are once per ticket (its token),
    so a repeat after a crash adds nothing, and only the first gives an F-code back."""
    for entry in entries:
        released = gate_ops.release(sale_id=sale_id, user_id=entry.user_id, units=entry.quantity,
                                    token=f"t:{entry.ticket}", fcode=bool(entry.fcode))
        if released and entry.fcode:
            gate_ops.fcode_unspend(sale_id=sale_id, code_hash=entry.fcode)


def gate_correct(*, sale_id: int) -> None:
    """The gate admitted what the database refused: rebuild it from the record now, so it
    stops selling units that are gone (and gives the refused buyers their counts back)."""
    logger.error("gate of sale %s admitted beyond the database's stock: rebuilding", sale_id)
    try:
        services.gate_rebuild(sale_id=sale_id)
    except redis.RedisError:
        logger.exception("could not rebuild the gate of sale %s; reconciliation will", sale_id)
