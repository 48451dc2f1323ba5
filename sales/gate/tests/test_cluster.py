"""A sale's stock split across the masters of a real Redis Cluster (issue 17): the rush over
three buckets sells exactly the stock, a bucket that runs dry borrows from the others, a move
cut in half by a crash is repaired, and a master failed over mid-sale leaves the invariants
whole. The cluster (three masters and a replica) is `core.local_cluster`'s."""

from __future__ import annotations

import itertools
import multiprocessing
from collections import Counter

import pytest
from django.db import connections
from django.db.models import Count

from antiscalper import services as antiscalper_services
from core.errors import DomainError
from sales import services
from sales.gate import buckets, holdings
from sales.gate.admission import Purchase
from sales.gate.keys import bucket_keys, bucket_of, connection
from sales.invariants import broken, sale_invariants, tickets_end_once
from sales.pipeline import orders as pipeline
from sales.pipeline import reconcile
from shop.models import Order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

Acked = list[tuple[str, int]]  # (ticket, user) of every 202 answer


def _buy(sale_id: int, users, codes: Counter | None = None) -> Acked:
    """Each user presses buy once; the acknowledged tickets (refusals counted in `codes`)."""
    acked: Acked = []
    for user in users:
        try:
            acked.append((services.purchase_admit(
                purchase=Purchase(sale_id=sale_id, user_id=user)).ticket, user))
        except DomainError as refusal:
            if codes is not None:
                codes[refusal.code] += 1
    return acked


def _rush(sale_id: int, users: list[int], answers) -> None:
    """A child process: each of its buyers presses buy twice."""
    codes: Counter = Counter()
    acked = _buy(sale_id, users + users, codes)
    answers.put((acked, dict(codes)))


def _drain(sale_id: int, name: str) -> None:
    connections.close_all()
    pipeline.drain(sale_id=sale_id, consumer=name, batch=50, time_budget=60)


def _lefts(sale_id: int, shards: int) -> list[int]:
    return [int(connection().get(keys.stock) or 0) for keys in bucket_keys(sale_id, shards)]


def _settle(sale_id: int, acked: Acked) -> None:
    """Drain everything (dead consumers' entries too), then ask for every acknowledged
    ticket, as its buyer would: one Redis lost is settled then (`gate_lost`)."""
    pipeline.drain(sale_id=sale_id, min_idle_ms=0, time_budget=60)
    for ticket, user in acked:
        services.ticket_resolve(ticket=ticket, user_id=user)


def test_2000_buyers_over_3_shards_buy_exactly_the_stock(gate_cluster, make_sale, buyer_ids):
    sale = make_sale(stock=300, limit=1, shards=3)
    every = bucket_keys(sale.pk, 3)
    assert len({gate_cluster.master_of(keys.meta) for keys in every}) == 3  # one per master
    assert _lefts(sale.pk, 3) == [100, 100, 100]
    buyers = buyer_ids(2000)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    answers = ctx.Queue()
    rushers = [ctx.Process(target=_rush, args=(sale.pk, buyers[i::4], answers))
               for i in range(4)]
    for process in rushers:
        process.start()
    results = [answers.get(timeout=180) for _ in rushers]
    for process in rushers:
        process.join(timeout=60)
        assert process.exitcode == 0
    acked = [pair for result, _ in results for pair in result]
    codes = sum((Counter(c) for _, c in results), Counter())

    drainers = [ctx.Process(target=_drain, args=(sale.pk, f"w{i}")) for i in range(2)]
    for process in drainers:
        process.start()
    for process in drainers:
        process.join(timeout=180)
    _settle(sale.pk, acked)

    assert len(acked) == 300, codes  # exactly the stock acknowledged, none twice
    assert set(codes) <= {"sold_out", "limit_reached"} and codes["sold_out"] > 0, codes
    assert _lefts(sale.pk, 3) == [0, 0, 0]
    orders = Order.objects.filter(sale_id=sale.pk)
    assert orders.count() == 300
    assert not orders.values("user_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert {bucket_of(user, 3) for user in orders.values_list("user_id", flat=True)} == {0, 1, 2}
    checks = sale_invariants(sale_id=sale.pk, tickets=[t for t, _ in acked])
    assert not broken(checks), [str(c) for c in checks]


def test_buyers_all_routed_to_one_bucket_still_buy_the_whole_stock(gate_cluster, make_sale,
                                                                   buyer_ids):
    sale = make_sale(stock=60, limit=1, shards=3)
    skewed = [user for user in buyer_ids(500) if bucket_of(user, 3) == 0][:90]
    assert _lefts(sale.pk, 3) == [20, 20, 20]
    codes: Counter = Counter()
    acked = _buy(sale.pk, skewed, codes)
    assert len(acked) == 60 and codes == {"sold_out": 30}
    assert _lefts(sale.pk, 3) == [0, 0, 0]
    assert buckets.in_transit(sale_id=sale.pk, shards=3) == []
    _settle(sale.pk, acked)
    assert Order.objects.filter(sale_id=sale.pk).count() == 60
    checks = sale_invariants(sale_id=sale.pk, tickets=[t for t, _ in acked])
    assert not broken(checks), [str(c) for c in checks]


def test_a_move_cut_between_take_and_give_is_repaired_by_reconciliation(gate_cluster,
                                                                        make_sale):
    sale = make_sale(stock=30, shards=3)
    move = buckets.take(sale_id=sale.pk, shards=3, donor=1, recipient=0, path="open", units=6)
    assert move is not None and move.units == 6
    # The worker died here: the units are in the donor's journal, counted by no bucket.
    assert _lefts(sale.pk, 3) == [10, 4, 10]
    assert holdings.state(sale_id=sale.pk, shards=3).stock_left == 24
    assert buckets.in_transit(sale_id=sale.pk, shards=3) == [move]

    reconcile.gates_reconcile()
    assert _lefts(sale.pk, 3) == [16, 4, 10]  # given to the recipient, once
    assert buckets.in_transit(sale_id=sale.pk, shards=3) == []
    assert buckets.give(sale_id=sale.pk, shards=3, move=move) == 0  # a replay adds nothing
    assert sum(_lefts(sale.pk, 3)) == 30


def test_a_move_from_before_a_rebuild_is_void(gate_cluster, make_sale):
    sale = make_sale(stock=30, shards=3)
    move = buckets.take(sale_id=sale.pk, shards=3, donor=2, recipient=1, path="open", units=5)
    services.gate_rebuild(sale_id=sale.pk)  # counts the 30 units from the database
    assert sum(_lefts(sale.pk, 3)) == 30
    assert buckets.give(sale_id=sale.pk, shards=3, move=move) == -2
    assert sum(_lefts(sale.pk, 3)) == 30


def test_the_blacklist_reaches_every_bucket_and_a_lost_copy_fails_closed(gate_cluster,
                                                                        make_sale, buyer_ids):
    sale = make_sale(stock=30, shards=3)
    by_bucket: dict[int, list[int]] = {}
    for user in buyer_ids(60):
        by_bucket.setdefault(bucket_of(user, 3), []).append(user)
    entries = [antiscalper_services.blacklist_add(kind="account", value=str(by_bucket[k][0]))[0]
               for k in range(3)]
    codes: Counter = Counter()
    assert _buy(sale.pk, [by_bucket[k][0] for k in range(3)], codes) == []
    assert codes == {"blocked": 3}  # each bucket's own copy has them
    antiscalper_services.blacklist_deactivate(entry_id=entries[2].pk)
    assert len(_buy(sale.pk, [by_bucket[2][0]], codes)) == 1  # lifted in its copy too

    connection().delete(bucket_keys(sale.pk, 3)[1].blacklist_ready)  # one copy lost
    codes = Counter()
    assert len(_buy(sale.pk, [by_bucket[1][1], by_bucket[0][1]], codes)) == 1
    assert codes == {"unavailable": 1}  # that bucket fails closed, the others sell
    services.blacklist_mirror_ensure()
    assert len(_buy(sale.pk, [by_bucket[1][2]], codes)) == 1


def test_a_shard_failed_over_mid_sale_keeps_the_invariants(gate_cluster, make_sale, buyer_ids):
    sale = make_sale(stock=150, limit=1, shards=3)
    users = iter(buyer_ids(700))
    acked = _buy(sale.pk, itertools.islice(users, 90))
    every = bucket_keys(sale.pk, 3)
    victim = gate_cluster.masters[0]
    [lost_bucket] = [k for k, keys in enumerate(every)
                     if gate_cluster.master_of(keys.meta) == victim]

    gate_cluster.kill(victim)  # its replica takes over, with whatever it had received
    gate_cluster.wait_promoted()
    codes: Counter = Counter()
    during = list(itertools.islice(users, 60))
    acked += _buy(sale.pk, during, codes)
    # The promoted replica is another dataset: its bucket sells nothing until rebuilt, while
    # the other buckets go on selling.
    refused = [u for u in during if bucket_of(u, 3) == lost_bucket]
    assert codes["unavailable"] >= len(refused) > 0, codes
    assert len(acked) > 90

    assert reconcile.gates_watch() == [sale.pk]  # found stale and rebuilt from the database
    acked += _buy(sale.pk, users)
    _settle(sale.pk, acked)

    checks = sale_invariants(sale_id=sale.pk, tickets=[t for t, _ in acked])
    assert not broken(checks), [str(c) for c in checks]
    assert Order.objects.filter(sale_id=sale.pk).count() == 150  # the whole stock, once
    assert tickets_end_once(sale_id=sale.pk, tickets=[t for t, _ in acked]).met
