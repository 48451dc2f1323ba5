"""The gate's maintenance: loading a sale, rebuilding it from the database, giving units
back, moving F-code quota, and wiping a gate another sale left behind.

All of it runs off the hot path; the admission itself is `sales.gate.admission.admit`.

A sale of N buckets (`sales.gate.keys.bucket_keys`): its stock is split evenly at load, each
holder (reserver, F-code, right) goes to its account's bucket, each bucket is stamped with the
dataset of the master that holds it, and a rebuild places the database's free units bucket
after bucket. Units given back go to the buyer's bucket.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from antiscalper import mirror
from core.errors import DomainError
from sales.gate import buckets
from sales.gate.admission import REFUSALS, sold_out_memo_clear, sold_out_memo_forget
from sales.gate.keys import (
    PIPELINE_GROUP,
    SaleKeys,
    bucket_keys,
    bucket_of,
    connection,
    dataset,
    ensure_group,
    epoch_ms,
    local_blacklist,
    script,
    shards_of,
)


@dataclass(frozen=True)
class SaleGateConfig:
    sale_id: int
    epoch: int
    starts_ms: int
    ends_ms: int
    per_user_limit: int
    requires_reservation: bool
    draw: bool = False
    shards: int = 1
    epochs: tuple[int, ...] = ()  # each bucket's own epoch (empty: every bucket at `epoch`)

    def argv(self, bucket: int = 0) -> list:
        """The arguments every load or rebuild of one bucket starts with."""
        epoch = self.epochs[bucket] if bucket < len(self.epochs) else self.epoch
        return [epoch, self.starts_ms, self.ends_ms, self.per_user_limit,
                int(self.requires_reservation), int(self.draw)]


@dataclass(frozen=True)
class Holders:
    """Who may buy through the side doors: reservers, F-codes and draw rights."""

    reservers: list[int]
    codes: dict[str, str]          # code hmac -> "user|expires_ms|used"
    rights: dict[int, str]         # user -> code hmac of the user's draw right

    @classmethod
    def none(cls) -> Holders:
        return cls(reservers=[], codes={}, rights={})

    @classmethod
    def of(cls, *, codes: Iterable, reservers: list[int] | None = None) -> Holders:
        """From FCode rows: each code as the gate keeps it, and the draw rights by account."""
        codes = list(codes)
        return cls(
            reservers=reservers or [],
            codes={c.code_hash: f"{c.user_id}|{epoch_ms(c.expires_at)}|{1 if c.order_id else 0}"
                   for c in codes},
            rights={c.user_id: c.code_hash for c in codes if c.kind == "right"},
        )

    def split(self, shards: int) -> list[Holders]:
        """Each bucket's holders: those of the accounts it serves."""
        if shards == 1:
            return [self]
        parts = [Holders.none() for _ in range(shards)]
        for user in self.reservers:
            parts[bucket_of(int(user), shards)].reservers.append(user)
        for code, entry in self.codes.items():
            parts[bucket_of(int(entry.split("|")[0]), shards)].codes[code] = entry
        for user, code in self.rights.items():
            parts[bucket_of(int(user), shards)].rights[user] = code
        return parts


def holders_add(*, sale_id: int, holders: Holders, overwrite: bool = False,
                shards: int | None = None) -> None:
    """Add reservers, codes and rights, each to its account's bucket; an existing code keeps
    its state (used stays used) unless `overwrite`: a rebuild takes each code's state from the
    database, and its script then marks used the codes of tickets still queued."""
    shards = shards_of(sale_id) if shards is None else shards
    for keys, part in zip(bucket_keys(sale_id, shards), holders.split(shards), strict=True):
        _holders_write(keys, part, overwrite)


def _holders_write(keys: SaleKeys, holders: Holders, overwrite: bool) -> None:
    pipe = connection().pipeline(transaction=False)
    for start in range(0, len(holders.reservers), 5000):
        pipe.sadd(keys.reservers, *holders.reservers[start:start + 5000])
    for code, entry in holders.codes.items():
        (pipe.hset if overwrite else pipe.hsetnx)(keys.fcodes, code, entry)
    for user, code in holders.rights.items():
        pipe.hset(keys.rights, user, code)
    pipe.execute()


def _sale_keys(keys: SaleKeys) -> list[str]:
    return [keys.meta, keys.stock, keys.fstock, keys.bought, keys.idem, keys.queue, keys.seq,
            keys.processed, keys.reservers, keys.fcodes, keys.rights, keys.returned,
            keys.attempts, keys.decided, keys.journal, keys.received]


def incarnation_check(*, sale_id: int, incarnation: int) -> bool:
    """Wipe a gate left by another sale with the same id (a database restored or reset while
    Redis kept its keys): its counters would sell this sale's units by another sale's stock.
    Returns True when a stale gate was wiped."""
    found = connection().hget(SaleKeys(sale_id).meta, "incarnation")
    if found is None or found == str(incarnation):
        return False
    wipe(sale_id=sale_id)
    return True


def incarnation_mark(*, sale_id: int, incarnation: int) -> None:
    connection().hset(SaleKeys(sale_id).meta, "incarnation", incarnation)


def wipe(*, sale_id: int) -> None:
    """Remove every key of a sale's gate, all its buckets' (its tickets' records expire by
    themselves)."""
    shards = shards_of(sale_id)
    every = {SaleKeys(sale_id), *bucket_keys(sale_id, shards)}
    for keys in every:
        connection().delete(*_sale_keys(keys))
    sold_out_memo_clear()


def _copies_register(every: tuple[SaleKeys, ...]) -> None:
    """On a cluster, each bucket reads its own copy of the blacklist mirror: kept from now."""
    if local_blacklist():
        for keys in every:
            mirror.copy_register(prefix=keys.prefix)


def _share(units: int, bucket: int, shards: int) -> int:
    """A bucket's part of units split evenly (the first buckets take the remainder)."""
    return units // shards + (1 if bucket < units % shards else 0)


def _generation() -> int:
    return time.time_ns() // 1000


def load(*, config: SaleGateConfig, stock: int, fcode_stock: int = 0,
         holders: Holders | None = None) -> bool:
    """Load a sale into the gate unless it is already loaded (never resets a loaded gate)."""
    shards, sale_id = config.shards, config.sale_id
    every = bucket_keys(sale_id, shards)
    loaded_on = [dataset(keys.meta) for keys in every]  # read first, as in `rebuild`
    _copies_register(every)
    holders_add(sale_id=sale_id, holders=holders or Holders.none(), shards=shards)
    if shards > 1:
        connection().hset(SaleKeys(sale_id).meta, "shards", shards)  # the router
    generation, created = _generation(), False
    for k, keys in enumerate(every):
        created |= bool(script("load")(
            keys=[keys.meta, keys.stock, keys.fstock],
            args=[*config.argv(k), _share(stock, k, shards), _share(fcode_stock, k, shards),
                  loaded_on[k], shards if shards > 1 else "", generation]))
        ensure_group(keys.queue, PIPELINE_GROUP)
    return created


def queued_tickets(*, sale_id: int, shards: int | None = None) -> list[str]:
    """The tickets in a sale's queues now (entries not yet acknowledged and deleted)."""
    shards = shards_of(sale_id) if shards is None else shards
    return [fields.get("ticket", "") for keys in bucket_keys(sale_id, shards)
            for _, fields in connection().xrange(keys.queue)]


def rebuild(*, config: SaleGateConfig, stock: int, held: int, fcode_stock: int,
            fcode_held: int, held_by_user: dict[int, int], returned: list[str],
            decided: list[str], holders: Holders | None = None) -> tuple[int, int]:
    """Rewrite a gate from the database's counts; returns (units left, units still queued).

    `returned` are the tokens of every release the database records: they are marked done
    first (in every bucket), so a release still on its way cannot add a unit the rebuild
    already counts. `decided` are queued tickets the database already settled: not counted
    again. Each bucket is stamped with the dataset its master holds now, so it sells again,
    and with a new generation, so that no move between buckets from before counts."""
    shards, sale_id = config.shards, config.sale_id
    every = bucket_keys(sale_id, shards)
    # Read first: if Redis changes under the rebuild, the stamp is the old one, and the
    # bucket fails closed again instead of selling from half-written keys.
    loaded_on = [dataset(keys.meta) for keys in every]
    if shards > 1:
        for keys in every:
            _freeze(keys)
    _copies_register(every)
    holders_add(sale_id=sale_id, holders=holders or Holders.none(), overwrite=True,
                shards=shards)
    if shards > 1:
        connection().hset(SaleKeys(sale_id).meta, "shards", shards)  # the router
    free_open, free_fcode = stock - held, fcode_stock - fcode_held
    left_total = queued_total = 0
    generation = _generation()
    decided_set = set(decided)
    # Units each bucket's queue still holds under its epoch (as rebuild.lua counts them): a
    # bucket's share of the free units leaves out those queued in the buckets after it, or a
    # bucket that borrowed and queued more than its share would push the gate over the stock.
    later = [_queued_units(keys, config.argv(k)[0], decided_set) if shards > 1 else (0, 0)
             for k, keys in enumerate(every)]
    for k, keys in enumerate(every):
        later_open = sum(units for units, _ in later[k + 1:])
        later_fcode = sum(units for _, units in later[k + 1:])
        pipe = connection().pipeline(transaction=False)
        for start in range(0, len(returned), 5000):
            pipe.sadd(keys.returned, *returned[start:start + 5000])
        pipe.delete(keys.decided)
        settled = decided if shards == 1 else [
            fields.get("ticket", "") for _, fields in connection().xrange(keys.queue)
            if fields.get("ticket", "") in decided_set]
        for start in range(0, len(settled), 5000):
            pipe.sadd(keys.decided, *settled[start:start + 5000])
        pipe.execute()
        pairs = [value for user, units in held_by_user.items()
                 if units and bucket_of(user, shards) == k for value in (user, units)]
        left, queued, fleft, open_queued, fcode_queued = script("rebuild")(
            keys=[keys.meta, keys.stock, keys.bought, keys.queue, keys.fstock, keys.decided,
                  keys.fcodes, keys.journal, keys.received],
            args=[*config.argv(k), free_open, later_open, free_fcode, later_fcode,
                  loaded_on[k], shards - k, generation, shards if shards > 1 else "", *pairs],
        )
        free_open -= int(left) + int(open_queued)
        free_fcode -= int(fleft) + int(fcode_queued)
        left_total += int(left)
        queued_total += int(queued)
        ensure_group(keys.queue, PIPELINE_GROUP)
    sold_out_memo_clear()
    return left_total, queued_total


# What a bucket is stamped with while a rebuild of its sale runs: no dataset is called so, so
# it sells nothing and gives nothing (fails closed) until its own rebuild stamps it again.
REBUILDING = "rebuilding"


def _freeze(keys: SaleKeys) -> None:
    """Stop a loaded bucket selling until its own rebuild (a sale of N buckets): a bucket
    that sold on after the buckets before it were given their shares of the free units would
    sell on top of them; and its queue is then read once and for all. A rebuild that dies
    half way leaves it stale: the next one (`gates_watch`) keeps its epoch and its queue."""
    if connection().hget(keys.meta, "loaded") == "1":
        connection().hset(keys.meta, "dataset", REBUILDING)


@dataclass
class Queued:
    """Units of a queue's entries that still count (as rebuild.lua counts them)."""

    open: int = 0
    fcode: int = 0
    by_user: dict[int, int] = field(default_factory=dict)


def queued_units(entries: Iterable[dict], *, epoch: int, decided: set[str]) -> Queued:
    """Of a bucket's queue entries (their fields), the units still to be settled under the
    bucket's `epoch` (the others the pipeline rejects), leaving out the tickets the database
    has `decided`: for the rebuild's shares and for reconciliation alike."""
    counted = Queued()
    for fields in entries:
        if fields.get("epoch") != str(epoch) or fields.get("ticket", "") in decided:
            continue
        units, user = int(fields["qty"]), int(fields["user"])
        if fields.get("fcode"):
            counted.fcode += units
        else:
            counted.open += units
        counted.by_user[user] = counted.by_user.get(user, 0) + units
    return counted


def _queued_units(keys: SaleKeys, epoch: int, decided: set[str]) -> tuple[int, int]:
    """Units of a bucket's queue under `epoch` not yet settled: (open rush, F-codes)."""
    counted = queued_units((fields for _, fields in connection().xrange(keys.queue)),
                           epoch=epoch, decided=decided)
    return counted.open, counted.fcode


def _every(sale_id: int) -> tuple[SaleKeys, ...]:
    return bucket_keys(sale_id, shards_of(sale_id))


def quota_release(*, sale_id: int, units: int) -> int:
    """Move up to `units` unused F-code units to the open rush, bucket by bucket; returns the
    units moved."""
    moved = 0
    for keys in _every(sale_id):
        here = script("quota_release")(keys=[keys.meta, keys.stock, keys.fstock],
                                       args=[units - moved, dataset(keys.meta)])
        if here < 0:
            raise DomainError("unavailable", REFUSALS["unavailable"], status=503)
        moved += int(here)
    sold_out_memo_clear()
    return moved


def adjust(*, sale_id: int, delta: int) -> int:
    """Add (or remove, if still unsold) units in a loaded gate; returns the units left. Units
    added go to the first bucket (the others borrow them); units removed are taken from the
    buckets in turn, and put back if, all told, too few were unsold."""
    every = _every(sale_id)
    if len(every) == 1 or delta >= 0:
        keys = every[0]
        answer = script("adjust")(keys=[keys.meta, keys.stock], args=[delta, dataset(keys.meta)])
        if answer[0] == "unavailable":
            raise DomainError("unavailable", REFUSALS["unavailable"], status=503)
        if answer[0] == "insufficient":
            raise DomainError("stock_sold", f"Only {answer[1]} unsold unit(s) can be removed.",
                              details={"unsold": int(answer[1])})
        return int(answer[1]) + sum(int(connection().get(k.stock) or 0) for k in every[1:])
    taken: list[tuple[SaleKeys, int]] = []
    for keys in every:
        answer = script("take")(keys=[keys.meta, keys.stock, keys.journal],
                                args=[-delta - sum(t for _, t in taken), dataset(keys.meta),
                                      "", ""])
        if int(answer[0]) < 0:
            _put_back(taken)
            raise DomainError("unavailable", REFUSALS["unavailable"], status=503)
        taken.append((keys, int(answer[0])))
    if sum(t for _, t in taken) < -delta:
        unsold = sum(t for _, t in taken)
        _put_back(taken)
        raise DomainError("stock_sold", f"Only {unsold} unsold unit(s) can be removed.",
                          details={"unsold": unsold})
    return sum(int(connection().get(k.stock) or 0) for k in every)


def _put_back(taken: list[tuple[SaleKeys, int]]) -> None:
    for keys, units in taken:
        if units:
            script("adjust")(keys=[keys.meta, keys.stock], args=[units, dataset(keys.meta)])


def release(*, sale_id: int, user_id: int, units: int, token: str,
            fcode: bool = False) -> bool:
    """Give units back to a loaded gate (to the F-code quota if they came from it), in the
    buyer's bucket, once per `token` ("o:<order>" or "t:<ticket>"); False when nothing was
    done."""
    shards = shards_of(sale_id)
    keys = bucket_keys(sale_id, shards)[bucket_of(user_id, shards)]
    counter = keys.fstock if fcode else keys.stock
    done = script("release")(keys=[keys.meta, counter, keys.bought, keys.returned],
                              args=[user_id, units, token])
    sold_out_memo_forget(sale_id)
    return bool(done)


def codes_spent(*, sale_id: int, code_hashes: list[str]) -> set[str]:
    """Which of these codes (or rights) the gate has marked used (in any bucket)."""
    if not code_hashes:
        return set()
    spent: set[str] = set()
    for keys in _every(sale_id):
        entries = connection().hmget(keys.fcodes, code_hashes)
        spent |= {h for h, entry in zip(code_hashes, entries, strict=True)
                  if entry and entry.endswith("|1")}
    return spent


def fcode_unspend(*, sale_id: int, code_hash: str) -> None:
    """A ticket redeemed with this code was rejected: the code may be used again."""
    for keys in _every(sale_id):
        entry = connection().hget(keys.fcodes, code_hash)
        if entry and entry.endswith("|1"):
            connection().hset(keys.fcodes, code_hash, entry[:-1] + "0")


def moves_repair(*, sale_id: int, shards: int) -> int:
    """Give the units a crash left in transit between buckets (see `sales.gate.buckets`)."""
    return buckets.moves_repair(sale_id=sale_id, shards=shards)
