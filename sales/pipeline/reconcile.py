"""Reconciliation: compare each gate with the database's record and correct it.

Expected units left = stock - units the database counts as taken (`FlashSale.units_taken`)
- units of tickets still queued under their bucket's epoch and not yet settled. A gate whose keys
vanished (Redis flushed) or that was loaded on another Redis dataset (restarted from an older
snapshot, a lagging replica promoted, a backup restored) answers `unavailable` to every buyer
until it is rebuilt from the database, by ops or, with GATE_AUTO_REBUILD, by `gates_watch`
(every second) and `gates_reconcile`. A gate holding more free stock than the database allows,
or counting a buyer for more than the database does, is rebuilt at once, never only logged.

A sale split into buckets is compared as a whole (every bucket's counters and queue), after
the moves a crash left between its buckets are completed (`sales.gate.buckets`); it is lost
or stale as soon as one bucket is.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import transaction

from sales.gate import buckets, holdings
from sales.gate import keys as gate_keys
from sales.gate import ops as gate_ops
from sales.gate.keys import bucket_keys
from sales.models import FlashSale, sale_lock
from sales.selectors import sales_recently_loaded
from sales.services import (
    blacklist_mirror_ensure,
    gate_rebuild,
    tickets_decided,
    units_taken_by_user,
)

logger = logging.getLogger("flashsale.reconcile")


@dataclass
class Drift:
    sale_id: int
    loaded: bool
    gate_stock_left: int | None
    expected_stock_left: int
    held_in_database: int
    queued: int
    users_differing: dict[int, dict[str, int]] = field(default_factory=dict)
    gate_fcode_stock_left: int | None = None
    expected_fcode_stock_left: int = 0
    stale: bool = False  # loaded on another Redis dataset than the one Redis holds now

    @property
    def stock_drift(self) -> int | None:
        if self.gate_stock_left is None:
            return None
        return self.gate_stock_left - self.expected_stock_left

    @property
    def fcode_stock_drift(self) -> int | None:
        if self.gate_fcode_stock_left is None:
            return None
        return self.gate_fcode_stock_left - self.expected_fcode_stock_left

    @property
    def clean(self) -> bool:
        return (self.loaded and not self.stale and self.stock_drift == 0
                and self.fcode_stock_drift == 0 and not self.users_differing)

    @property
    def oversells(self) -> bool:
        """The gate would admit more than the database allows (free units it does not have,
        or a buyer counted for less than the database counts): corrected at once."""
        return ((self.stock_drift or 0) > 0 or (self.fcode_stock_drift or 0) > 0
                or any(d["gate"] < d["database"] for d in self.users_differing.values()))

    @property
    def undercounts_buyers(self) -> bool:
        """Some buyer is counted for more than the database holds (refused units not given
        back): corrected at once too, so that buyer may try again."""
        return any(d["gate"] > d["database"] for d in self.users_differing.values())

    def as_dict(self) -> dict:
        return {**asdict(self), "stock_drift": self.stock_drift,
                "fcode_stock_drift": self.fcode_stock_drift, "clean": self.clean}


def _queued(queues: list[tuple[int, list[dict]]]) -> tuple[int, int, dict[int, int]]:
    """Units of unsettled entries queued under their bucket's epoch (the others the pipeline
    rejects): (open rush, F-codes, by user). `queues`: (bucket epoch, its entries) each."""
    settled = set(tickets_decided(tickets=[fields.get("ticket", "") for _, entries in queues
                                           for fields in entries]))
    total, fcoded, by_user = 0, 0, {}
    for epoch, entries in queues:
        counted = gate_ops.queued_units(entries, epoch=epoch, decided=settled)
        total, fcoded = total + counted.open, fcoded + counted.fcode
        for user, units in counted.by_user.items():
            by_user[user] = by_user.get(user, 0) + units
    return total, fcoded, by_user


def sale_reconcile(*, sale_id: int) -> Drift:
    """Compare one sale's gate with the database. Read-only; holds the sale's row lock so
    that no batch commits between the reads (a drift it reports is real)."""
    with transaction.atomic():
        sale = sale_lock(sale_id)
        state = holdings.state(sale_id=sale_id, shards=sale.shards)
        queues = [(sale.bucket_epoch(k),
                   [fields for _, fields in gate_keys.connection().xrange(keys.queue)])
                  for k, keys in enumerate(bucket_keys(sale_id, sale.shards))]
        queued, fqueued, queued_by = _queued(queues)
        by_user = units_taken_by_user(sale_id=sale_id)
    open_taken = sale.units_taken - sale.fcode_units_taken
    expected = max(sale.open_stock - open_taken - queued, 0)
    fexpected = max(sale.fcode_quota - sale.fcode_units_taken - fqueued, 0)
    users: dict[int, dict[str, int]] = {}
    if state.loaded:
        for user in set(by_user) | set(queued_by) | set(state.bought):
            want = by_user.get(user, 0) + queued_by.get(user, 0)
            have = state.bought.get(user, 0)
            if want != have:
                users[user] = {"gate": have, "database": want}
    return Drift(sale_id=sale_id, loaded=state.loaded, gate_stock_left=state.stock_left,
                 expected_stock_left=expected, held_in_database=sale.units_taken,
                 queued=queued + fqueued, users_differing=users,
                 gate_fcode_stock_left=state.fcode_stock_left,
                 expected_fcode_stock_left=fexpected, stale=state.stale)


def gates_reconcile() -> list[Drift]:
    """Check every loaded, not long-ended sale: rebuild lost or stale gates if
    GATE_AUTO_REBUILD, and correct at once any gate that drifts towards overselling."""
    blacklist_mirror_ensure()
    drifts = []
    shards = _shards(sales_recently_loaded())
    for sale_id in shards:
        buckets.moves_repair(sale_id=sale_id, shards=shards[sale_id])
        drift = sale_reconcile(sale_id=sale_id)
        if not drift.loaded or drift.stale:
            logger.error("gate of sale %s is %s: failing closed", sale_id,
                         "stale" if drift.stale else "gone")
            if settings.GATE_AUTO_REBUILD:
                gate_rebuild(sale_id=sale_id)
        elif drift.oversells or drift.undercounts_buyers:
            logger.error("gate of sale %s drifts, correcting: %s", sale_id, drift.as_dict())
            gate_rebuild(sale_id=sale_id)
        elif not drift.clean:
            logger.warning("gate of sale %s drifts: %s", sale_id, drift.as_dict())
        drifts.append(drift)
    return drifts


def _shards(sale_ids: list[int]) -> dict[int, int]:
    """Each sale's bucket count, in the order given."""
    found = dict(FlashSale.objects.filter(pk__in=sale_ids).values_list("pk", "shards"))
    return {sale_id: found[sale_id] for sale_id in sale_ids if sale_id in found}


def gates_watch() -> list[int]:
    """Every second (beat): find gates that are lost or stamped with another Redis dataset,
    with one query and two round trips in all (on a cluster, a dataset read per master; a
    sale of N buckets has each checked), and rebuild them if GATE_AUTO_REBUILD. Returns their
    ids. The web processes already refuse to sell on them; this brings the sale back."""
    sale_ids = sales_recently_loaded()
    if not sale_ids:
        return []
    shards = _shards(sale_ids)
    metas = [(sale_id, keys.meta) for sale_id in shards
             for keys in bucket_keys(sale_id, shards[sale_id])]
    client = gate_keys.connection()
    pipe = client.pipeline(transaction=False)
    for _, meta in metas:
        pipe.hmget(meta, "loaded", "dataset")
    current: dict[str, str] = {}
    broken: list[int] = []
    for (sale_id, meta), (loaded, loaded_on) in zip(metas, pipe.execute(), strict=True):
        node = _master_of(meta)
        if node not in current:
            current[node] = gate_keys.dataset(meta)
        if (loaded != "1" or loaded_on != current[node]) and sale_id not in broken:
            broken.append(sale_id)
    if broken:
        logger.error("gates of sales %s are lost or stale (Redis now holds %s)", broken,
                     sorted(current.values()))
        if settings.GATE_AUTO_REBUILD:
            for sale_id in broken:
                gate_rebuild(sale_id=sale_id)
    blacklist_mirror_ensure()
    return broken


def _master_of(key: str) -> str:
    """Which server holds `key`: on a cluster its master, else the one Redis."""
    if not gate_keys.clustered():
        return ""
    node = gate_keys.connection().get_node_from_key(key)
    return f"{node.host}:{node.port}"
