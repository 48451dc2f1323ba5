"""What a sale's gate holds right now (for reconciliation, the sale API, the reports and the
tests): loaded or not, on which Redis dataset, the stock left, the queue and who bought how
much, over all its buckets. Reads only, off the purchase hot path (`sales.gate.admission`
decides purchases; `sales.gate.ops` loads and rebuilds gates)."""

from __future__ import annotations

from dataclasses import dataclass

from sales.gate.keys import SaleKeys, bucket_keys, connection, dataset, shards_of


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


def state(*, sale_id: int, shards: int | None = None) -> GateState:
    """What the gate holds for a sale right now (for reconciliation and the sale API): over
    all its buckets, loaded and trusted only if each is (`shards`: the sale's bucket count,
    else the router's)."""
    shards = shards_of(sale_id) if shards is None else shards
    parts = [_bucket_state(keys) for keys in bucket_keys(sale_id, shards)]
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
