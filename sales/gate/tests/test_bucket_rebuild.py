"""One bucket of a sale loses its keys (one master restarted empty, or flushed): only that
bucket is rebuilt under a new epoch (issue 17, point 2). Tickets a worker still holds from it
are rejected `gate_rebuilt`, never written; tickets queued in the buckets that lost nothing
are written as if nothing happened; and the sale still sells exactly its stock."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

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
from sales.pipeline.queue import Batch
from shop.models import Order

SHARDS = 3


def _buy(sale_id: int, users, codes: Counter) -> list[tuple[str, int]]:
    acked = []
    for user in users:
        try:
            acked.append((services.purchase_admit(
                purchase=Purchase(sale_id=sale_id, user_id=user)).ticket, user))
        except DomainError as refusal:
            codes[refusal.code] += 1
    return acked


def _hold(sale_id: int) -> list[Batch]:
    """A worker reads every bucket's queue and stalls before writing."""
    return [pipeline.batch_read(sale_id=sale_id, consumer="stalled", count=1000,
                                min_idle_ms=0, bucket=keys)
            for keys in bucket_keys(sale_id, SHARDS)]


def _lose(sale_id: int, lost: list[int]) -> None:
    """Those buckets' keys are gone, as after their master restarted with nothing."""
    for k in lost:
        connection().delete(*gate_ops._sale_keys(bucket_keys(sale_id, SHARDS)[k]))


def _settle(sale_id: int, acked: list[tuple[str, int]]) -> None:
    pipeline.drain(sale_id=sale_id, min_idle_ms=0, time_budget=60)
    for ticket, user in acked:
        services.ticket_resolve(ticket=ticket, user_id=user)


@pytest.mark.parametrize("lost", [[1], [0, 2], [0, 1, 2]], ids=["one", "two", "all"])
def test_only_the_buckets_that_lost_their_keys_reject_their_queued_tickets(
        make_sale, buyer_ids, lost):
    sale = make_sale(stock=60, limit=1, shards=SHARDS)
    users = iter(buyer_ids(400))
    codes: Counter = Counter()
    acked = _buy(sale.pk, itertools.islice(users, 30), codes)
    held = _hold(sale.pk)
    assert sum(len(batch.entries) for batch in held) == 30

    _lose(sale.pk, lost)
    during = list(itertools.islice(users, 30))
    acked += _buy(sale.pk, during, codes)
    lost_buyers = {u for u in during if bucket_of(u, SHARDS) in lost}
    # Those buckets fail closed; the others sell on, and one that runs dry cannot borrow
    # from a lost bucket, which may hold units by the database: `unavailable`, not sold out.
    assert not lost_buyers & {u for _, u in acked} and set(codes) <= {"unavailable"}, codes
    assert codes["unavailable"] >= len(lost_buyers)
    assert len(acked) > 30 or len(lost) == SHARDS

    services.gate_rebuild(sale_id=sale.pk)
    sale = FlashSale.objects.get(pk=sale.pk)
    epochs = [sale.bucket_epoch(k) for k in range(SHARDS)]
    assert [k for k in range(SHARDS) if epochs[k] != 0] == lost
    assert [part.epoch for part in holdings.bucket_states(sale_id=sale.pk)] == epochs

    # The stalled worker writes what it held: refused only where its bucket was lost.
    for k, batch in enumerate(held):
        outcome = pipeline.batch_write(sale=sale, batch=batch)
        reasons = set(outcome.rejected.values())
        if k in lost:
            assert reasons == {"gate_rebuilt"} and not outcome.confirmed and not outcome.released
        else:
            assert not outcome.rejected and len(outcome.confirmed) == len(batch.entries)
        pipeline.batch_publish(batch=batch, outcome=outcome)

    acked += _buy(sale.pk, users, codes)
    _settle(sale.pk, acked)
    held_lost = sum(len(batch.entries) for k, batch in enumerate(held) if k in lost)
    assert RejectedTicket.objects.filter(sale=sale, reason="gate_rebuilt").count() == held_lost
    assert Order.objects.filter(sale_id=sale.pk).count() == 60  # the whole stock, once
    tickets = [t for t, _ in acked]
    checks = sale_invariants(sale_id=sale.pk, tickets=tickets)
    assert not broken(checks), [str(c) for c in checks]
    assert tickets_end_once(sale_id=sale.pk, tickets=tickets).met
    assert reconcile.sale_reconcile(sale_id=sale.pk).clean


def test_a_later_loss_of_the_whole_gate_gives_every_bucket_one_new_epoch(make_sale,
                                                                         buyer_ids):
    sale = make_sale(stock=30, limit=1, shards=SHARDS)
    _lose(sale.pk, [2])
    services.gate_rebuild(sale_id=sale.pk)
    sale = FlashSale.objects.get(pk=sale.pk)
    assert (sale.gate_epoch, sale.gate_bucket_epochs) == (1, [0, 0, 1])

    _lose(sale.pk, [0, 1, 2])
    services.gate_rebuild(sale_id=sale.pk)
    sale = FlashSale.objects.get(pk=sale.pk)
    assert (sale.gate_epoch, sale.gate_bucket_epochs) == (2, [])
    assert {part.epoch for part in holdings.bucket_states(sale_id=sale.pk)} == {2}
    acked = _buy(sale.pk, buyer_ids(40), Counter())
    assert len(acked) == 30
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk).count() == 30


def test_reconciliation_counts_each_buckets_queue_under_its_own_epoch(make_sale, buyer_ids):
    """After one bucket was renewed, the units queued in the others are still counted as
    taken: the gate is clean, not 'drifting' into a rebuild that would resell them."""
    sale = make_sale(stock=30, limit=1, shards=SHARDS)
    _lose(sale.pk, [1])
    services.gate_rebuild(sale_id=sale.pk)
    acked = _buy(sale.pk, buyer_ids(12), Counter())
    drift = reconcile.sale_reconcile(sale_id=sale.pk)
    assert drift.queued == len(acked) and drift.clean, drift.as_dict()
    assert drift.expected_stock_left == 30 - len(acked)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_on_a_real_cluster_a_master_flushed_mid_sale_costs_only_its_own_bucket(
        gate_cluster, make_sale, buyer_ids):
    sale = make_sale(stock=90, limit=1, shards=SHARDS)
    users = iter(buyer_ids(500))
    codes: Counter = Counter()
    acked = _buy(sale.pk, itertools.islice(users, 45), codes)
    held = _hold(sale.pk)
    every = bucket_keys(sale.pk, SHARDS)
    victim = gate_cluster.masters[1]
    [lost] = [k for k, keys in enumerate(every) if gate_cluster.master_of(keys.meta) == victim]

    gate_cluster.client(victim).flushall()  # its replica follows: the bucket's data is gone
    assert reconcile.gates_watch() == [sale.pk]  # found lost, rebuilt from the database
    sale = FlashSale.objects.get(pk=sale.pk)
    assert [sale.bucket_epoch(k) != 0 for k in range(SHARDS)] == [k == lost
                                                                   for k in range(SHARDS)]
    for k, batch in enumerate(held):
        outcome = pipeline.batch_write(sale=sale, batch=batch)
        assert bool(outcome.rejected) == (k == lost and bool(batch.entries))
        assert len(outcome.confirmed) == (0 if k == lost else len(batch.entries))
        pipeline.batch_publish(batch=batch, outcome=outcome)

    acked += _buy(sale.pk, users, codes)
    _settle(sale.pk, acked)
    tickets = [t for t, _ in acked]
    checks = sale_invariants(sale_id=sale.pk, tickets=tickets)
    assert not broken(checks), [str(c) for c in checks]
    assert Order.objects.filter(sale_id=sale.pk).count() == 90
    assert tickets_end_once(sale_id=sale.pk, tickets=tickets).met


def test_an_empty_bucket_says_sold_out_only_when_every_other_bucket_is_trusted(make_sale,
                                                                              buyer_ids):
    """A stale bucket's counter is no proof: the database may still count units in it."""
    sale = make_sale(stock=3, limit=1, shards=SHARDS)
    mine = [u for u in buyer_ids(300) if bucket_of(u, SHARDS) == 0][:4]
    stale = bucket_keys(sale.pk, SHARDS)[2]
    connection().set(stale.stock, 0)
    connection().hset(stale.meta, "dataset", "another-dataset")  # came back from elsewhere
    codes: Counter = Counter()
    acked = _buy(sale.pk, mine[:3], codes)
    assert len(acked) == 2 and codes == {"unavailable": 1}, codes  # its own, and bucket 1's

    services.gate_rebuild(sale_id=sale.pk)  # the database's count: one unit left
    acked += _buy(sale.pk, mine[2:], codes)
    assert len(acked) == 3 and codes == {"unavailable": 1, "sold_out": 1}, codes
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk).count() == 3


def test_units_in_transit_are_not_sold_out_and_sell_once_repaired(make_sale, buyer_ids,
                                                                  monkeypatch):
    """A move cut by a crash between take and give holds units no bucket counts: every bucket
    is empty, yet the sale is not sold out (`unavailable` until reconciliation gives them).
    (A move is called stuck after MOVE_STUCK_SECONDS; here at once.)"""
    from sales.gate import buckets

    monkeypatch.setattr(holdings, "MOVE_STUCK_SECONDS", 0.0)
    sale = make_sale(stock=2, limit=1, shards=2)
    mine = [u for u in buyer_ids(300) if bucket_of(u, 2) == 1][:3]
    cut = buckets.take(sale_id=sale.pk, shards=2, donor=0, recipient=1, path="open", units=1)
    assert cut is not None  # taken from bucket 0, never given: the worker died
    codes: Counter = Counter()
    acked = _buy(sale.pk, mine[:2], codes)
    assert len(acked) == 1 and codes == {"unavailable": 1}, codes

    reconcile.gates_reconcile()  # gives the cut move to bucket 1
    acked += _buy(sale.pk, mine[1:], codes)
    assert len(acked) == 2 and codes == {"unavailable": 1, "sold_out": 1}, codes
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk).count() == 2


def test_a_rebuild_cut_by_a_redis_error_keeps_the_lost_buckets_new_epoch(
        make_sale, buyer_ids, monkeypatch):
    """The rebuild dies after rewriting bucket 0 (Redis errors on the next call): the new
    epoch of the lost bucket was committed first, so what bucket 0 sells from then on is
    written, and a stale worker's tickets of the lost epoch are still refused."""
    import redis

    sale = make_sale(stock=20, limit=1, shards=2)
    users = buyer_ids(300)
    zeros, ones = ([u for u in users if bucket_of(u, 2) == k] for k in (0, 1))
    acked = _buy(sale.pk, zeros[:3], Counter())
    held = pipeline.batch_read(sale_id=sale.pk, consumer="stalled", count=100, min_idle_ms=0,
                               bucket=bucket_keys(sale.pk, 2)[0])
    assert len(held.entries) == 3
    connection().delete(*gate_ops._sale_keys(bucket_keys(sale.pk, 2)[0]))

    real = gate_ops.ensure_group

    def dies_after_bucket_0(stream: str, group: str) -> None:
        real(stream, group)
        if stream == bucket_keys(sale.pk, 2)[0].queue:
            raise redis.ConnectionError("the connection dropped mid-rebuild")

    monkeypatch.setattr(gate_ops, "ensure_group", dies_after_bucket_0)
    with pytest.raises(redis.ConnectionError):
        services.gate_rebuild(sale_id=sale.pk)
    monkeypatch.undo()
    sale = FlashSale.objects.get(pk=sale.pk)
    assert [sale.bucket_epoch(0), sale.bucket_epoch(1)] == [1, 0]  # committed, not rolled back

    between = _buy(sale.pk, zeros[3:6], Counter())  # bucket 0 sells again, under epoch 1
    assert len(between) == 3
    outcome = pipeline.batch_write(sale=sale, batch=held)
    assert set(outcome.rejected.values()) == {"gate_rebuilt"} and not outcome.confirmed
    pipeline.batch_publish(batch=held, outcome=outcome)

    assert reconcile.gates_watch() == [sale.pk]  # bucket 1, left 'rebuilding', is rebuilt
    sale = FlashSale.objects.get(pk=sale.pk)
    assert [sale.bucket_epoch(0), sale.bucket_epoch(1)] == [1, 0]
    acked += between + _buy(sale.pk, zeros[6:] + ones, Counter())
    _settle(sale.pk, acked)
    written = set(Order.objects.filter(sale_id=sale.pk).values_list("ticket", flat=True))
    assert {t for t, _ in between} <= written  # nothing bucket 0 sold after the cut is lost
    assert Order.objects.filter(sale_id=sale.pk).count() == 20
    tickets = [t for t, _ in acked]
    checks = sale_invariants(sale_id=sale.pk, tickets=tickets)
    assert not broken(checks), [str(c) for c in checks]
    assert tickets_end_once(sale_id=sale.pk, tickets=tickets).met
