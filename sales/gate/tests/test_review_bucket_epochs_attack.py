"""An outside review's attacks on per-bucket gate epochs (commit c162683): partial losses
and rebuilds, stale workers, reconciliation and the report after them. Real Redis only."""

from __future__ import annotations

from collections import Counter

import pytest

from core.errors import DomainError
from sales import services
from sales.gate import buckets, holdings
from sales.gate import ops as gate_ops
from sales.gate.admission import Purchase
from sales.gate.keys import bucket_keys, bucket_of, connection
from sales.invariants import broken, sale_invariants, tickets_end_once
from sales.models import HOLDING, FlashSale, RejectedTicket
from sales.modes import fcodes
from sales.pipeline import orders as pipeline
from sales.pipeline import reconcile
from sales.pipeline.queue import MAX_DELIVERIES, Batch
from shop import services as shop_services
from shop.models import Customer, Order


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
    """Those buckets' keys are gone, their tickets' records too (a master restarted empty)."""
    for k in lost:
        keys = bucket_keys(sale_id, shards)[k]
        connection().delete(*gate_ops._sale_keys(keys))
        for key in connection().scan_iter(match=keys.prefix + "*"):
            connection().delete(key)


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


def test_a_healthy_bucket_selling_while_a_lost_one_is_rebuilt_does_not_oversell(
        make_sale, buyer_ids, monkeypatch):
    """Bucket 1 borrowed from bucket 0, bucket 0 sold most of the rest, then lost its keys.
    Bucket 1 sells on while the rebuild runs: what it sells between bucket 0's rebuild and
    its own must not come on top of the share bucket 0 was just given."""
    sale = make_sale(stock=20, limit=1, shards=2)
    users = buyer_ids(300)
    zeros, ones = _of(users, 0, 2), _of(users, 1, 2)
    acked = _buy(sale.pk, ones[:11])                   # 10 own, then a borrow of 5
    acked += _buy(sale.pk, zeros[:4])                  # bucket 0: 1 left, bucket 1: 4
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk).count() == 15
    _lose(sale.pk, 2, [0])

    during: list[tuple[str, int]] = []
    real = gate_ops.ensure_group

    def then_bucket_1_sells(stream: str, group: str) -> None:
        real(stream, group)
        if stream == bucket_keys(sale.pk, 2)[0].queue and not during:
            during.extend(_buy(sale.pk, ones[11:20]))   # its old counter: 4

    monkeypatch.setattr(gate_ops, "ensure_group", then_bucket_1_sells)
    services.gate_rebuild(sale_id=sale.pk)
    monkeypatch.undo()
    queued = sum(int(f["qty"]) for _, f in connection().xrange(bucket_keys(sale.pk, 2)[1].queue))
    left = holdings.state(sale_id=sale.pk, shards=2).stock_left
    moving = sum(move.units for move in buckets.in_transit(sale_id=sale.pk, shards=2))
    assert left + moving + queued <= 5, (left, moving, queued)  # 5 free by the database
    reconcile.gates_reconcile()  # gives what is in transit
    assert holdings.state(sale_id=sale.pk, shards=2).stock_left + queued <= 5

    acked += during + _buy(sale.pk, zeros[4:20] + ones[20:30])
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk).count() == 20
    assert not RejectedTicket.objects.filter(sale_id=sale.pk, reason="sold_out").exists()
    _sound(sale.pk, acked)


def _hold(sale_id: int, shards: int, consumer: str) -> list[Batch]:
    return [pipeline.batch_read(sale_id=sale_id, consumer=consumer, count=1000,
                                min_idle_ms=0, bucket=keys)
            for keys in bucket_keys(sale_id, shards)]


def test_losses_in_turn_with_workers_stalled_in_each_epoch(make_sale, buyer_ids):
    """Lose bucket 0, rebuild; lose bucket 1, rebuild; lose all, rebuild: a worker stalled
    in each round writes only the tickets of buckets that kept their keys since it read."""
    shards = 3
    sale = make_sale(stock=45, limit=1, shards=shards)
    users = iter(buyer_ids(400))
    acked: list[tuple[str, int]] = []
    rounds = []
    for lost in ([0], [1], [0, 1, 2]):
        acked += _buy(sale.pk, [next(users) for _ in range(9)])
        rounds.append((_hold(sale.pk, shards, f"stalled-{len(rounds)}"), lost))
        _lose(sale.pk, shards, lost)
        services.gate_rebuild(sale_id=sale.pk)
    sale = FlashSale.objects.get(pk=sale.pk)
    assert (sale.gate_epoch, sale.gate_bucket_epochs) == (3, [])

    # Round 0's batch from bucket 2 survived the first two losses but not the third.
    for held, _ in rounds:
        for batch in held:
            outcome = pipeline.batch_write(sale=sale, batch=batch)
            assert not outcome.confirmed and not outcome.released
            assert set(outcome.rejected.values()) <= {"gate_rebuilt"}
            pipeline.batch_publish(batch=batch, outcome=outcome)
    acked += _buy(sale.pk, list(users))
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk).count() == 45
    _sound(sale.pk, acked)
    assert reconcile.sale_reconcile(sale_id=sale.pk).clean


def test_a_partial_loss_keeps_a_stalled_workers_older_healthy_batch(make_sale, buyer_ids):
    """Bucket 2 kept its keys through two losses of the others: a batch read from it before
    both is still written, and the others' are rejected."""
    shards = 3
    sale = make_sale(stock=45, limit=1, shards=shards)
    users = iter(buyer_ids(400))
    acked = _buy(sale.pk, [next(users) for _ in range(12)])
    first = _hold(sale.pk, shards, "first")
    _lose(sale.pk, shards, [0])
    services.gate_rebuild(sale_id=sale.pk)
    acked += _buy(sale.pk, [next(users) for _ in range(12)])
    second = _hold(sale.pk, shards, "second")
    _lose(sale.pk, shards, [1])
    services.gate_rebuild(sale_id=sale.pk)
    sale = FlashSale.objects.get(pk=sale.pk)
    assert sale.gate_bucket_epochs == [1, 2, 0]
    for held, kept in ((first, {2}), (second, {0, 2})):
        for k, batch in enumerate(held):
            outcome = pipeline.batch_write(sale=sale, batch=batch)
            if k in kept:
                assert len(outcome.confirmed) == len(batch.entries) and not outcome.rejected
            else:
                assert set(outcome.rejected.values()) <= {"gate_rebuilt"}
                assert not outcome.confirmed and not outcome.released
            pipeline.batch_publish(batch=batch, outcome=outcome)
    acked += _buy(sale.pk, list(users))
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk).count() == 45
    _sound(sale.pk, acked)


def test_one_bucket_sale_still_moves_its_one_epoch(make_sale, buyer_ids):
    sale = make_sale(stock=5, limit=1)
    assert len(_buy(sale.pk, buyer_ids(3))) == 3
    [held] = _hold(sale.pk, 1, "stalled")
    _lose(sale.pk, 1, [0])
    services.gate_rebuild(sale_id=sale.pk)
    sale = FlashSale.objects.get(pk=sale.pk)
    assert (sale.gate_epoch, sale.gate_bucket_epochs, sale.bucket_epoch(0)) == (1, [], 1)
    assert holdings.state(sale_id=sale.pk).epoch == 1
    outcome = pipeline.batch_write(sale=sale, batch=held)
    assert set(outcome.rejected.values()) == {"gate_rebuilt"} and len(outcome.rejected) == 3
    pipeline.batch_publish(batch=held, outcome=outcome)
    assert holdings.state(sale_id=sale.pk).stock_left == 5


def test_a_stale_bucket_beside_a_lost_one_keeps_its_epoch_and_its_queue(make_sale, buyer_ids):
    """Bucket 1 lost, bucket 2 back on another dataset: bucket 0, run dry, answers
    `unavailable` (never `sold_out`); the rebuild renews bucket 1 only, and the tickets
    queued in the stale bucket 2 are real admissions, written."""
    shards = 3
    sale = make_sale(stock=9, limit=1, shards=shards)
    users = buyer_ids(300)
    zeros, twos = _of(users, 0, shards), _of(users, 2, shards)
    acked = _buy(sale.pk, twos[:2])
    [_, _, held_2] = _hold(sale.pk, shards, "stalled")
    assert len(held_2.entries) == 2
    _lose(sale.pk, shards, [1])
    connection().hset(bucket_keys(sale.pk, shards)[2].meta, "dataset", "another-dataset")
    codes: Counter = Counter()
    acked += _buy(sale.pk, zeros[:6], codes)
    assert len(acked) == 2 + 3 and codes == {"unavailable": 3}, codes

    assert reconcile.gates_watch() == [sale.pk]  # found lost and stale, rebuilt
    sale = FlashSale.objects.get(pk=sale.pk)
    assert sale.gate_bucket_epochs == [0, 1, 0]
    assert all(p.trusted for p in holdings.bucket_states(sale_id=sale.pk))
    outcome = pipeline.batch_write(sale=sale, batch=held_2)
    assert len(outcome.confirmed) == 2 and not outcome.rejected
    pipeline.batch_publish(batch=held_2, outcome=outcome)
    acked += _buy(sale.pk, zeros[6:] + twos[2:], codes)
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk).count() == 9
    assert not RejectedTicket.objects.filter(sale_id=sale.pk).exists()
    _sound(sale.pk, acked)
    assert reconcile.sale_reconcile(sale_id=sale.pk).clean


def test_fcodes_of_a_lost_bucket_come_back_and_a_healthy_buckets_stay_used(make_sale,
                                                                          buyer_ids):
    shards = 2
    sale = make_sale(stock=12, fcode_quota=6, shards=shards, load=False)
    users = buyer_ids(40)
    Customer.objects.filter(user_id__in=users).update(fan_level=5)
    issued = {c.user_id: c.code for c in fcodes.fcodes_issue(sale_id=sale.pk, count=6,
                                                             fan_level_min=1)}
    services.gate_load(sale_id=sale.pk)
    zero = [u for u in issued if bucket_of(u, shards) == 0][:2]
    one = [u for u in issued if bucket_of(u, shards) == 1][:2]
    assert len(zero) == len(one) == 2

    def redeem(user: int) -> str:
        return services.purchase_admit(purchase=Purchase(
            sale_id=sale.pk, user_id=user, fcode=issued[user])).ticket

    acked = [(redeem(u), u) for u in zero + one]
    held = _hold(sale.pk, shards, "stalled")
    _lose(sale.pk, shards, [0])
    services.gate_rebuild(sale_id=sale.pk)
    with pytest.raises(DomainError) as again:
        redeem(one[0])  # its ticket is still queued under bucket 1's epoch: the code is used
    assert again.value.code == "fcode_invalid"

    sale = FlashSale.objects.get(pk=sale.pk)
    for k, batch in enumerate(held):
        outcome = pipeline.batch_write(sale=sale, batch=batch)
        reasons = set(outcome.rejected.values())
        assert (reasons, len(outcome.confirmed)) == (({"gate_rebuilt"}, 0) if k == 0
                                                     else (set(), 2))
        pipeline.batch_publish(batch=batch, outcome=outcome)
    acked += [(redeem(u), u) for u in zero]  # the lost bucket's codes may be used again
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk, fcode__isnull=False).count() == 4
    _sound(sale.pk, acked)
    drift = reconcile.sale_reconcile(sale_id=sale.pk)
    assert drift.clean and drift.expected_fcode_stock_left == 2, drift.as_dict()


def test_orders_of_a_lost_bucket_cancelled_during_and_after_the_loss_return_once(make_sale,
                                                                                 buyer_ids):
    shards = 2
    sale = make_sale(stock=8, limit=1, shards=shards)
    users = buyer_ids(200)
    zeros, ones = _of(users, 0, shards), _of(users, 1, shards)
    acked = _buy(sale.pk, zeros[:3] + ones[:3])
    _settle(sale.pk, acked)
    orders = {o.user_id: o.pk for o in Order.objects.filter(sale_id=sale.pk)}
    assert len(orders) == 6
    _lose(sale.pk, shards, [0])
    shop_services.order_cancel(order_id=orders[zeros[0]], user_id=zeros[0])  # gate lost
    services.orders_expire_due()  # the sweep returns it: into no bucket, the record's count
    services.gate_rebuild(sale_id=sale.pk)
    shop_services.order_cancel(order_id=orders[zeros[1]], user_id=zeros[1])  # rebuilt
    shop_services.order_cancel(order_id=orders[ones[0]], user_id=ones[0])    # healthy
    services.orders_expire_due()
    services.orders_expire_due()  # replayed: nothing twice
    assert holdings.state(sale_id=sale.pk, shards=shards).stock_left == 8 - 3
    assert reconcile.sale_reconcile(sale_id=sale.pk).clean
    acked += _buy(sale.pk, zeros[3:30] + ones[3:30])
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk, status__in=HOLDING).count() == 8
    _sound(sale.pk, acked)


def test_the_report_and_admin_show_each_buckets_epoch(make_sale, admin_client):
    shards = 3
    sale = make_sale(stock=9, shards=shards)
    _lose(sale.pk, shards, [1])
    page = admin_client.get(f"/admin/sales/flashsale/{sale.pk}/change/").content.decode()
    assert page.count('data-cell="epoch">-<') == 1  # lost: no epoch to show
    services.gate_rebuild(sale_id=sale.pk)
    page = admin_client.get(f"/admin/sales/flashsale/{sale.pk}/change/").content.decode()
    assert [page.count(f'data-cell="epoch">{e}<') for e in (0, 1)] == [2, 1]
    rows, whole = holdings.buckets(sale_id=sale.pk, shards=shards)
    assert whole and [row.epoch for row in rows] == [0, 1, 0]
