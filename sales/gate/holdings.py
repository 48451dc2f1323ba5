"""What a sale's gate holds right now (for reconciliation, the sale API, the reports and the
tests): loaded or not, on which Redis dataset, the stock left, the queue and who bought how
much, over all its buckets, and each bucket on its own (`buckets`). Reads only, off the
purchase hot path (`sales.gate.admission` decides purchases; `sales.gate.ops` loads and
rebuilds gates)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from sales.gate.keys import SaleKeys, bucket_keys, clustered, connection, dataset, shards_of

# A borrow gives what it took within milliseconds; a move still in its donor's journal after
# this long lost its caller (a crash between take and give): reconciliation will give it.
MOVE_STUCK_SECONDS = 5.0


@dataclass(frozen=True)
class GateState:
    loaded: bool
    epoch: int | None
    stock_left: int | None
    queued: int
    bought: dict[int, int]
    fcode_stock_left: int | None = None
    dataset: str | None = None       # the Redis dataset the gate was loaded on
    current_dataset: str | None = None  # the dataset Redis holds now

    @property
    def stale(self) -> bool:
        """Loaded, but on another dataset: Redis came back different and may hold less than
        it acknowledged, so the gate sells nothing until it is rebuilt from the database."""
        return self.loaded and self.dataset != self.current_dataset

    @property
    def trusted(self) -> bool:
        return self.loaded and not self.stale


def _bucket_state(keys: SaleKeys) -> GateState:
    current = dataset(keys.meta)
    pipe = connection().pipeline(transaction=True)  # one bucket, one slot: one MULTI
    pipe.hmget(keys.meta, "loaded", "epoch", "dataset").get(keys.stock)
    pipe.xlen(keys.queue).hgetall(keys.bought).get(keys.fstock)
    (loaded, epoch, loaded_on), stock, queued, bought, fstock = pipe.execute()
    return GateState(
        loaded=loaded == "1", epoch=int(epoch) if epoch is not None else None,
        stock_left=int(stock) if stock is not None else None, queued=int(queued),
        bought={int(user): int(units) for user, units in bought.items()},
        fcode_stock_left=int(fstock) if fstock is not None else None,
        dataset=loaded_on, current_dataset=current,
    )


def _total(values: list[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(values)


def bucket_states(*, sale_id: int, shards: int | None = None) -> list[GateState]:
    """What each bucket of a sale holds right now, in bucket order: a rebuild renews only the
    buckets whose keys are gone."""
    shards = shards_of(sale_id) if shards is None else shards
    return [_bucket_state(keys) for keys in bucket_keys(sale_id, shards)]


def state(*, sale_id: int, shards: int | None = None) -> GateState:
    """What the gate holds for a sale right now (for reconciliation and the sale API): over
    all its buckets, loaded and trusted only if each is (`shards`: the sale's bucket count,
    else the router's)."""
    parts = bucket_states(sale_id=sale_id, shards=shards)
    if len(parts) == 1:
        return parts[0]
    epochs = {part.epoch for part in parts}
    return GateState(
        loaded=all(part.loaded for part in parts),
        epoch=epochs.pop() if len(epochs) == 1 else None,
        stock_left=_total([part.stock_left for part in parts]),
        queued=sum(part.queued for part in parts),
        bought={user: units for part in parts for user, units in part.bought.items()},
        fcode_stock_left=_total([part.fcode_stock_left for part in parts]),
        dataset="|".join(str(part.dataset) for part in parts),
        current_dataset="|".join(str(part.current_dataset) for part in parts),
    )


def stock_left(*, sale_id: int, shards: int | None = None) -> int | None:
    """Units left in the gate, or None when the sale is not loaded (one Redis round trip for a
    sale of one bucket)."""
    shards = shards_of(sale_id) if shards is None else shards
    if shards == 1:
        value = connection().get(SaleKeys(sale_id).stock)
        return int(value) if value is not None else None
    values = [connection().get(keys.stock) for keys in bucket_keys(sale_id, shards)]
    return _total([int(v) if v is not None else None for v in values])


@dataclass(frozen=True)
class BucketHolding:
    """One bucket of a sale as its Redis holds it now, for the report and the dashboard.

    The buckets add up to the sale's stock: the sum over buckets of `stock_left`, `taken` and
    `in_transit` is `FlashSale.stock` (`buckets` says when its reads cannot show that: a move
    or a rebuild landed between them)."""

    bucket: int
    node: str                   # the cluster master holding it ("" on the one Redis)
    loaded: bool
    trusted: bool               # loaded, on the dataset its master holds now
    epoch: int | None           # its epoch (moves when it is rebuilt after losing its keys)
    stock_left: int | None      # open rush and F-code quota; None when its keys are gone
    taken: int                  # units its buyers hold in the gate (queued or written)
    admitted: int               # tickets it has admitted (its queue's sequence)
    queued: int
    moves_in: int               # moves given to it, and their units (since load or rebuild)
    units_in: int
    moves_out: int              # moves it gave away, and their units
    units_out: int
    in_transit: int             # units it gave that no bucket counts yet
    moves_in_transit: int
    oldest_move_s: float | None  # how long the oldest of those has been on its way

    @property
    def stuck(self) -> bool:
        """A move of this bucket's lost its caller and waits for reconciliation."""
        return self.oldest_move_s is not None and self.oldest_move_s > MOVE_STUCK_SECONDS


def _node_of(key: str) -> str:
    if not clustered():
        return ""
    node = connection().get_node_from_key(key)
    return f"{node.host}:{node.port}"


# Reads of a sale's buckets, one after the other: a move or a rebuild landing between two
# of them is read again, at most this many times, then the sum is said to be unknown.
READ_TRIES = 3


@dataclass(frozen=True)
class _Read:
    holding: BucketHolding
    journal: dict[str, str]     # moves out not yet struck: id -> "recipient|path|units|gen"
    stamp: tuple                # what only a move or a rebuild changes in the bucket


def _stamp(keys: SaleKeys) -> tuple:
    pipe = connection().pipeline(transaction=True)
    pipe.hmget(keys.meta, "gen", "moves_in", "moves_out").hkeys(keys.journal)
    meta, journal = pipe.execute()
    return (*meta, frozenset(journal))


def _bucket_holding(bucket: int, keys: SaleKeys, now_us: int) -> _Read:
    current = dataset(keys.meta)
    pipe = connection().pipeline(transaction=True)  # one bucket, one slot: one MULTI
    pipe.hmget(keys.meta, "loaded", "dataset", "moves_in", "units_in", "moves_out",
               "units_out", "gen", "epoch")
    pipe.get(keys.stock).get(keys.fstock).hvals(keys.bought).get(keys.seq).xlen(keys.queue)
    pipe.hgetall(keys.journal)
    meta, stock, fstock, bought, seq, queued, journal = pipe.execute()
    loaded, loaded_on, *moves, gen, epoch = meta
    moves_in, units_in, moves_out, units_out = (int(m or 0) for m in moves)
    left = None if stock is None and fstock is None else int(stock or 0) + int(fstock or 0)
    holding = BucketHolding(
        bucket=bucket, node=_node_of(keys.meta), loaded=loaded == "1",
        trusted=loaded == "1" and loaded_on == current,
        epoch=int(epoch) if epoch is not None else None, stock_left=left,
        taken=sum(int(units) for units in bought), admitted=int(seq or 0), queued=int(queued),
        moves_in=moves_in, units_in=units_in, moves_out=moves_out, units_out=units_out,
        in_transit=0, moves_in_transit=0, oldest_move_s=None)
    return _Read(holding=holding, journal=journal,
                 stamp=(gen, meta[2], meta[4], frozenset(journal)))


def _in_transit(read: _Read, every: tuple[SaleKeys, ...], now_us: int) -> BucketHolding:
    """The bucket with the moves it gave that no bucket counts yet: a move its recipient has
    already received (the worker died before striking it) counts there, not here."""
    # A journal entry is "recipient|path|units|generation", its id "<microseconds>-<random>".
    moving = {move_id: entry.split("|") for move_id, entry in read.journal.items()}
    moving = {move_id: entry for move_id, entry in moving.items()
              if not connection().sismember(every[int(entry[0])].received, move_id)}
    started = [int(move_id.split("-")[0]) for move_id in moving]
    return replace(read.holding, in_transit=sum(int(entry[2]) for entry in moving.values()),
                   moves_in_transit=len(moving),
                   oldest_move_s=(now_us - min(started)) / 1e6 if started else None)


def buckets(*, sale_id: int, shards: int) -> tuple[list[BucketHolding], bool]:
    """Each bucket of a sale of `shards` buckets as it stands now (one read per bucket), and
    whether they add up as one moment's: no move nor rebuild landed between their reads
    (read again if one did) and every bucket is of the same generation (no rebuild half
    done)."""
    every = bucket_keys(sale_id, shards)
    for _ in range(READ_TRIES):
        now_us = time.time_ns() // 1000
        reads = [_bucket_holding(k, keys, now_us) for k, keys in enumerate(every)]
        rows = [_in_transit(read, every, now_us) for read in reads]
        if shards == 1 or [_stamp(keys) for keys in every] == [read.stamp for read in reads]:
            return rows, len({read.stamp[0] for read in reads}) == 1
    return rows, False
