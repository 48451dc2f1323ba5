"""An outside review's attacks on per-bucket gate epochs (commit c162683): partial losses
and rebuilds, stale workers, reconciliation and the report after them. Real Redis only."""

from __future__ import annotations

from collections import Counter

from core.errors import DomainError
from sales import services
from sales.gate import holdings
from sales.gate import ops as gate_ops
from sales.gate.admission import Purchase
from sales.gate.keys import bucket_keys, bucket_of, connection
from sales.invariants import broken, sale_invariants, tickets_end_once
from sales.models import FlashSale, RejectedTicket
from sales.pipeline import orders as pipeline
from sales.pipeline import reconcile
from sales.pipeline.queue import MAX_DELIVERIES, Batch
from shop.models import Order


def _buy(sale_id: int, users, codes: Counter | None = None) -> list[tuple[str, int]]:
    codes = Counter() if codes is None else codes
    acked = []
    for user in users:
        try:
            acked.append((services.purchase_admit(
                purchase=Purchase(sale_id=sale_id, user_id=user)).ticket, user))
        except DomainError as refusal:
            codes[refusal.code] += 1
    return acked


def _of(users, bucket: int, shards: int) -> list[int]:
    return [u for u in users if bucket_of(u, shards) == bucket]


def _lose(sale_id: int, shards: int, lost: list[int]) -> None:
    for k in lost:
        connection().delete(*gate_ops._sale_keys(bucket_keys(sale_id, shards)[k]))


def _settle(sale_id: int, acked: list[tuple[str, int]]) -> None:
    pipeline.drain(sale_id=sale_id, min_idle_ms=0, time_budget=60)
    for ticket, user in acked:
        services.ticket_resolve(ticket=ticket, user_id=user)


def _sound(sale_id: int, acked: list[tuple[str, int]]) -> None:
    tickets = [t for t, _ in acked]
    checks = sale_invariants(sale_id=sale_id, tickets=tickets)
    assert not broken(checks), [str(c) for c in checks]
    assert tickets_end_once(sale_id=sale_id, tickets=tickets).met


def test_a_lost_bucket_rebuilt_beside_a_heavily_queued_one_does_not_oversell(make_sale,
                                                                             buyer_ids):
    """Bucket 1 borrowed from bucket 0 and queued 8 of the 10 units; bucket 0 then loses its
    keys. The rebuild must leave at most the 2 free units in the gate: the 8 queued in
    bucket 1 keep their units (same epoch) and the rest is what bucket 0 may sell."""
    sale = make_sale(stock=10, limit=1, shards=2)
    users = buyer_ids(200)
    queued_in_1 = _buy(sale.pk, _of(users, 1, 2)[:8])
    assert len(queued_in_1) == 8
    _lose(sale.pk, 2, [0])

    services.gate_rebuild(sale_id=sale.pk)
    state = holdings.state(sale_id=sale.pk, shards=2)
    assert state.stock_left + 8 <= 10, state  # gate left + queued within the stock
    drift = reconcile.sale_reconcile(sale_id=sale.pk)
    assert drift.clean, drift.as_dict()

    codes: Counter = Counter()
    acked = queued_in_1 + _buy(sale.pk, _of(users, 0, 2)[:8], codes)
    assert len(acked) == 10, codes  # every admitted ticket can become an order
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk).count() == 10
    assert not RejectedTicket.objects.filter(sale_id=sale.pk).exists()
    _sound(sale.pk, acked)


def _poisoned(sale_id: int, shards: int, bucket: int) -> Batch:
    """A worker's batch whose entries were delivered too often: held as poison."""
    keys = bucket_keys(sale_id, shards)[bucket]
    for round_ in range(MAX_DELIVERIES + 2):
        batch = pipeline.batch_read(sale_id=sale_id, consumer=f"w{round_}", count=100,
                                    min_idle_ms=0, bucket=keys)
        if batch.poison:
            return batch
    raise AssertionError("no poison")


def test_a_stale_workers_poison_from_a_lost_bucket_gives_back_no_unit(make_sale, buyer_ids):
    """Poison entries held by a stalled worker from a bucket since lost: the rebuilt bucket
    never counted their units, so rejecting them must not release a unit into it."""
    sale = make_sale(stock=6, limit=1, shards=2)
    users = buyer_ids(200)
    acked = _buy(sale.pk, _of(users, 0, 2)[:2])
    held = _poisoned(sale.pk, 2, 0)
    assert len(held.poison) == 2
    _lose(sale.pk, 2, [0])
    services.gate_rebuild(sale_id=sale.pk)
    left_before = holdings.state(sale_id=sale.pk, shards=2).stock_left
    assert left_before == 6

    sale = FlashSale.objects.get(pk=sale.pk)
    outcome = pipeline.batch_write(sale=sale, batch=held)
    pipeline.batch_publish(batch=held, outcome=outcome)
    assert not outcome.confirmed and len(outcome.rejected) == 2
    assert holdings.state(sale_id=sale.pk, shards=2).stock_left == 6  # not 8
    assert reconcile.sale_reconcile(sale_id=sale.pk).clean

    acked += _buy(sale.pk, users[:40])
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk).count() == 6
    assert RejectedTicket.objects.filter(sale_id=sale.pk, reason="sold_out").count() == 0
    _sound(sale.pk, acked)
