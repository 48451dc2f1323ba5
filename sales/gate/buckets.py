"""Units moving between the buckets of a sale split across a Redis Cluster's masters.

A bucket that runs out while others hold units borrows from them (Alibaba's bucketed hot-item
stock): a Lua call on the donor takes up to k units and records the move in the donor's
journal, both in one atomic call; a Lua call on the recipient adds them, once per move; then
the journal entry is struck. Units in transit sit in the journal, counted by no bucket, so
they are never sold twice; a crash between the two calls leaves the entry, and
`moves_repair` (reconciliation) gives it. A rebuild from the database starts a new generation:
a move of an older one is void (the database's count already has its units).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from sales.gate import holdings
from sales.gate.keys import SaleKeys, bucket_keys, connection, dataset, script

logger = logging.getLogger("flashsale.gate")

PATHS = ("open", "fcode")  # the open rush's stock and the F-code quota


def _counter(keys: SaleKeys, path: str) -> str:
    return keys.stock if path == "open" else keys.fstock


class DonorUnavailable(Exception):
    """The donor bucket is not loaded, or stamped with another dataset: it gives nothing."""


@dataclass(frozen=True)
class Borrowed:
    """What a borrow brought: units arrived, and whether some bucket held units it could not
    give (then the sale is not sold out, only out of reach)."""

    arrived: int
    out_of_reach: bool


@dataclass(frozen=True)
class Move:
    """Units taken from a donor bucket, on their way to a recipient."""

    move_id: str
    donor: int
    recipient: int
    path: str
    units: int
    generation: str


def take(*, sale_id: int, shards: int, donor: int, recipient: int, path: str,
         units: int) -> Move | None:
    """The donor's half: take up to `units` and journal the move (None: nothing taken).
    Raises DonorUnavailable when the donor fails closed."""
    keys = bucket_keys(sale_id, shards)[donor]
    move_id = f"{time.time_ns() // 1000}-{secrets.token_hex(4)}"
    answer = script("take")(keys=[keys.meta, _counter(keys, path), keys.journal],
                            args=[units, dataset(keys.meta), move_id, f"{recipient}|{path}"])
    taken = int(answer[0])
    if taken < 0:
        raise DonorUnavailable(f"bucket {donor} of sale {sale_id}")
    if taken == 0:
        return None
    return Move(move_id=move_id, donor=donor, recipient=recipient, path=path, units=taken,
                generation=str(answer[1]))


def give(*, sale_id: int, shards: int, move: Move) -> int:
    """The recipient's half, then the journal entry struck unless the recipient cannot take
    the units now. Returns give.lua's answer (1 given, 0 already, -2 void, -1 not now)."""
    every = bucket_keys(sale_id, shards)
    keys = every[move.recipient]
    given = int(script("give")(keys=[keys.meta, _counter(keys, move.path), keys.received],
                               args=[move.units, move.move_id, dataset(keys.meta),
                                     move.generation]))
    if given != -1:
        connection().hdel(every[move.donor].journal, move.move_id)
    return given


def borrow(*, sale_id: int, shards: int, bucket: int, path: str, units: int) -> Borrowed:
    """Move units into `bucket` from the buckets holding most, half of a donor's units at a
    time (at least `units`), until it holds `units` more. Nothing arrived is `sold_out` only
    if every other bucket is trusted and empty and no move is stuck: a bucket whose keys are
    lost, or that is stale, may hold units by the database's count, and a move cut by a
    crash holds units reconciliation will give (`out_of_reach`)."""
    every = bucket_keys(sale_id, shards)
    counted = [connection().get(_counter(keys, path)) for keys in every]
    lefts = [int(value or 0) for value in counted]
    donors = sorted((k for k in range(shards) if k != bucket and lefts[k] > 0),
                    key=lambda k: -lefts[k])
    arrived = 0
    out_of_reach = any(value is None for k, value in enumerate(counted) if k != bucket)
    for donor in donors:
        want = max(units - arrived, (lefts[donor] + 1) // 2)
        try:
            move = take(sale_id=sale_id, shards=shards, donor=donor, recipient=bucket,
                        path=path, units=want)
        except DonorUnavailable:
            out_of_reach = True
            continue
        if move is not None and give(sale_id=sale_id, shards=shards, move=move) == 1:
            arrived += move.units
        if arrived >= units:
            break
    if not arrived and not out_of_reach:
        out_of_reach = (not all(_trusted(keys) for k, keys in enumerate(every) if k != bucket)
                        or any(_stuck(keys) for keys in every))
    return Borrowed(arrived=arrived, out_of_reach=out_of_reach)


def _stuck(keys: SaleKeys) -> bool:
    """A move of this donor lost its caller (a crash between take and give): its units wait
    for reconciliation. A move still on its way (milliseconds) is not: its recipient's buyers
    will take its units, and this buyer is told sold out as before, not 503."""
    now_us = time.time_ns() // 1000
    return any((now_us - int(move_id.split("-")[0])) / 1e6 > holdings.MOVE_STUCK_SECONDS
               for move_id in connection().hkeys(keys.journal))


def _trusted(keys: SaleKeys) -> bool:
    """Loaded, on the dataset its master holds now (asked only when nothing could be
    borrowed: an empty bucket of a stale gate is no proof the sale sold out, nor are empty
    buckets while a move's units are in transit, journalled by its donor)."""
    loaded, loaded_on = connection().hmget(keys.meta, "loaded", "dataset")
    return loaded == "1" and loaded_on == dataset(keys.meta)


def in_transit(*, sale_id: int, shards: int) -> list[Move]:
    """Moves journalled by their donors and not yet struck."""
    moves = []
    for donor, keys in enumerate(bucket_keys(sale_id, shards)):
        for move_id, entry in connection().hgetall(keys.journal).items():
            recipient, path, units, generation = entry.split("|")
            moves.append(Move(move_id=move_id, donor=donor, recipient=int(recipient),
                              path=path, units=int(units), generation=generation))
    return moves


def moves_repair(*, sale_id: int, shards: int) -> int:
    """Give every move a crash left in a donor's journal (a give is once per move, so racing
    a live borrower adds nothing twice); returns the units given."""
    if shards == 1:
        return 0
    given = 0
    for move in in_transit(sale_id=sale_id, shards=shards):
        if give(sale_id=sale_id, shards=shards, move=move) == 1:
            given += move.units
            logger.warning("sale %s: repaired a move of %s units from bucket %s to %s",
                           sale_id, move.units, move.donor, move.recipient)
    return given
