"""The gate's maintenance: loading a sale, rebuilding it from the database, giving units
back, moving F-code quota, and wiping a gate another sale left behind.

All of it runs off the hot path; the admission itself is `sales.gate.admission.admit`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import DomainError
from sales.gate.admission import REFUSALS, sold_out_memo_clear, sold_out_memo_forget
from sales.gate.keys import (
    PIPELINE_GROUP,
    SaleKeys,
    connection,
    dataset,
    ensure_group,
    epoch_ms,
    script,
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

    def argv(self) -> list:
        return [self.epoch, self.starts_ms, self.ends_ms, self.per_user_limit,
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


def holders_add(*, sale_id: int, holders: Holders, overwrite: bool = False) -> None:
    """Add reservers, codes and rights; an existing code keeps its state (used stays used)
    unless `overwrite`: a rebuild takes each code's state from the database, and its script
    then marks used the codes of tickets still queued."""
    keys, pipe = SaleKeys(sale_id), connection().pipeline(transaction=False)
    for start in range(0, len(holders.reservers), 5000):
        pipe.sadd(keys.reservers, *holders.reservers[start:start + 5000])
    for code, entry in holders.codes.items():
        (pipe.hset if overwrite else pipe.hsetnx)(keys.fcodes, code, entry)
    for user, code in holders.rights.items():
        pipe.hset(keys.rights, user, code)
    pipe.execute()


def _sale_keys(sale_id: int) -> list[str]:
    keys = SaleKeys(sale_id)
    return [keys.meta, keys.stock, keys.fstock, keys.bought, keys.idem, keys.queue, keys.seq,
            keys.processed, keys.reservers, keys.fcodes, keys.rights, keys.returned,
            keys.attempts, keys.decided]


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
    """Remove every key of a sale's gate (its tickets' records expire by themselves)."""
    connection().delete(*_sale_keys(sale_id))
    sold_out_memo_clear()


def load(*, config: SaleGateConfig, stock: int, fcode_stock: int = 0,
         holders: Holders | None = None) -> bool:
    """Load a sale into the gate unless it is already loaded (never resets a loaded gate)."""
    keys = SaleKeys(config.sale_id)
    loaded_on = dataset()  # read first, as in `rebuild`
    holders_add(sale_id=config.sale_id, holders=holders or Holders.none())
    created = script("load")(keys=[keys.meta, keys.stock, keys.fstock],
                              args=[*config.argv(), stock, fcode_stock, loaded_on])
    ensure_group(keys.queue, PIPELINE_GROUP)
    return bool(created)


def queued_tickets(*, sale_id: int) -> list[str]:
    """The tickets in a sale's queue now (entries not yet acknowledged and deleted)."""
    return [fields.get("ticket", "") for _, fields in
            connection().xrange(SaleKeys(sale_id).queue)]


def rebuild(*, config: SaleGateConfig, stock: int, held: int, fcode_stock: int,
            fcode_held: int, held_by_user: dict[int, int], returned: list[str],
            decided: list[str], holders: Holders | None = None) -> tuple[int, int]:
    """Rewrite a gate from the database's counts; returns (units left, units still queued).

    `returned` are the tokens of every release the database records: they are marked done
    first, so a release still on its way cannot add a unit the rebuild already counts.
    `decided` are queued tickets the database already settled: not counted again. The gate
    is stamped with the dataset Redis holds now, so it sells again."""
    keys = SaleKeys(config.sale_id)
    # Read first: if Redis changes under the rebuild, the stamp is the old one, and the gate
    # fails closed again instead of selling from half-written keys.
    loaded_on = dataset()
    holders_add(sale_id=config.sale_id, holders=holders or Holders.none(), overwrite=True)
    pipe = connection().pipeline(transaction=False)
    for start in range(0, len(returned), 5000):
        pipe.sadd(keys.returned, *returned[start:start + 5000])
    pipe.delete(keys.decided)
    for start in range(0, len(decided), 5000):
        pipe.sadd(keys.decided, *decided[start:start + 5000])
    pipe.execute()
    pairs = [value for user, units in held_by_user.items() if units for value in (user, units)]
    left, queued, _ = script("rebuild")(
        keys=[keys.meta, keys.stock, keys.bought, keys.queue, keys.fstock, keys.decided,
              keys.fcodes],
        args=[*config.argv(), stock, held, fcode_stock, fcode_held, loaded_on, *pairs],
    )
    ensure_group(keys.queue, PIPELINE_GROUP)
    sold_out_memo_clear()
    return int(left), int(queued)


def quota_release(*, sale_id: int, units: int) -> int:
    """Move up to `units` unused F-code units to the open rush; returns the units moved."""
    keys = SaleKeys(sale_id)
    moved = script("quota_release")(keys=[keys.meta, keys.stock, keys.fstock],
                                    args=[units, dataset()])
    if moved < 0:
        raise DomainError("unavailable", REFUSALS["unavailable"], status=503)
    sold_out_memo_clear()
    return int(moved)


def adjust(*, sale_id: int, delta: int) -> int:
    """Add (or remove, if still unsold) units in a loaded gate; returns the units left."""
    keys = SaleKeys(sale_id)
    answer = script("adjust")(keys=[keys.meta, keys.stock], args=[delta, dataset()])
    if answer[0] == "unavailable":
        raise DomainError("unavailable", REFUSALS["unavailable"], status=503)
    if answer[0] == "insufficient":
        raise DomainError("stock_sold", f"Only {answer[1]} unsold unit(s) can be removed.",
                          details={"unsold": int(answer[1])})
    return int(answer[1])


def release(*, sale_id: int, user_id: int, units: int, token: str,
            fcode: bool = False) -> bool:
    """Give units back to a loaded gate (to the F-code quota if they came from it), once per
    `token` ("o:<order>" or "t:<ticket>"); False when nothing was done."""
    keys = SaleKeys(sale_id)
    counter = keys.fstock if fcode else keys.stock
    done = script("release")(keys=[keys.meta, counter, keys.bought, keys.returned],
                              args=[user_id, units, token])
    sold_out_memo_forget(sale_id)
    return bool(done)


def codes_spent(*, sale_id: int, code_hashes: list[str]) -> set[str]:
    """Which of these codes (or rights) the gate has marked used."""
    if not code_hashes:
        return set()
    entries = connection().hmget(SaleKeys(sale_id).fcodes, code_hashes)
    return {h for h, entry in zip(code_hashes, entries, strict=True)
            if entry and entry.endswith("|1")}


def fcode_unspend(*, sale_id: int, code_hash: str) -> None:
    """A ticket redeemed with this code was rejected: the code may be used again."""
    keys = SaleKeys(sale_id)
    entry = connection().hget(keys.fcodes, code_hash)
    if entry and entry.endswith("|1"):
        connection().hset(keys.fcodes, code_hash, entry[:-1] + "0")
