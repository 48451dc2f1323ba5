"""The database's word on a batch, under the sale's row lock: what the record already says
about its tickets (`settled_find`), what the gate could not know (`screen`), and stock,
per-user limit and F-codes by the database's own counters (`guard`).

The database holds the line whatever Redis says: a Redis that came back older than what it
acknowledged may admit units that are already sold, and the guard refuses them here.
"""

from __future__ import annotations

from dataclasses import dataclass

from antiscalper.models import RiskDecision
from sales import bulk
from sales.gate.keys import bucket_of, epoch_ms
from sales.models import FCode, FlashSale, RejectedTicket, SaleBuyer
from sales.pipeline.queue import Entry
from sales.pipeline.risk_feed import blocked_tickets
from shop.models import Address, Customer, Order


@dataclass(frozen=True)
class Settled:
    """What the record already says about a batch's tickets: decided by an earlier delivery
    of them, or blocked by the risk engine since they were admitted."""

    confirmed: dict[str, int]  # ticket -> order id
    rejected: dict[str, str]   # ticket -> reason
    blocked: set[str]

    def __contains__(self, ticket: str) -> bool:
        return ticket in self.confirmed or ticket in self.rejected


def settled_find(sale_id: int, tickets: list[str]) -> Settled:
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


def epoch_stale(sale: FlashSale, e: Entry) -> bool:
    """Admitted by a bucket since rebuilt after its keys were lost: its units were never
    counted by the bucket that sells now."""
    return e.epoch != sale.bucket_epoch(bucket_of(e.user_id, sale.shards))


def poison_reason(sale: FlashSale, e: Entry) -> str:
    """Why an entry delivered too often is rejected: `undeliverable` (its unit goes back),
    or `gate_rebuilt` if its bucket was rebuilt since (nothing goes back: the rebuilt bucket
    never counted it, and a release would put a unit the stock does not have into it)."""
    return "gate_rebuilt" if epoch_stale(sale, e) else "undeliverable"


def screen(sale: FlashSale, todo: list[Entry], blocked: set[str],
           ) -> tuple[list[Entry], list[tuple[Entry, str]]]:
    """What the gate could not know: tickets the risk engine blocked, tickets of a bucket
    since rebuilt after its keys were lost (another epoch than the bucket's), addresses that
    are not the buyer's or were deleted (or edited into a new version) before the purchase
    was admitted. Returns (candidates for the guard, rejections)."""
    owned = _addresses_owned(todo)
    candidates: list[Entry] = []
    rejects: list[tuple[Entry, str]] = []
    for e in todo:
        if e.ticket in blocked:
            rejects.append((e, "risk_blocked"))
        elif epoch_stale(sale, e):
            rejects.append((e, "gate_rebuilt"))
        elif e.address_id and not _deliverable(owned, e):
            rejects.append((e, "address_invalid"))
        else:
            candidates.append(e)
    return candidates, rejects


def _addresses_owned(entries: list[Entry]) -> dict[tuple[int, int], int | None]:
    """(address, user) -> when the address left the book (ms since the epoch; None while it
    is there) for the batch's addresses: an entry may use only its buyer's own."""
    ids = sorted({e.address_id for e in entries if e.address_id})
    rows = bulk.values_for(Address, "pk", ids, ("customer_id", "deleted_at"))
    user_of = dict(bulk.values_for(Customer, "pk", sorted({row[1] for row in rows}),
                                   ("user_id",)))
    return {(address, user_of[customer]): None if gone is None else epoch_ms(gone)
            for address, customer, gone in rows}


def _deliverable(owned: dict[tuple[int, int], int | None], e: Entry) -> bool:
    """The buyer's own, and in the book when the purchase was admitted: a shopper who edits
    or deletes an address just after buying keeps that purchase, shipped to the text it was
    bought for; a purchase admitted after the deletion (an old id sent again) is refused."""
    key = (e.address_id, e.user_id)
    if key not in owned:
        return False
    gone_ms = owned[key]
    return gone_ms is None or 0 < e.admitted_ms < gone_ms


def _taken_by(sale: FlashSale, user_ids: set[int]) -> dict[int, int]:
    """Units these buyers hold in the sale by the database's count (`SaleBuyer`)."""
    return dict(bulk.values_for(SaleBuyer, "user_id", sorted(user_ids), ("units_taken",),
                                sale_id=sale.pk))


def guard(sale: FlashSale, entries: list[Entry]) -> tuple[list[Entry], list[tuple[Entry, str]]]:
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
