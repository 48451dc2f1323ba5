"""A sale's stock split across the masters of a real Redis Cluster (issue 17): the rush over
three buckets sells exactly the stock. The cluster (three masters and a replica) is
`core.tests.cluster`'s."""

from __future__ import annotations

import multiprocessing
from collections import Counter

import pytest
from django.db import connections
from django.db.models import Count

from core.errors import DomainError
from sales import services
from sales.gate.admission import Purchase
from sales.gate.keys import bucket_keys, bucket_of, connection
from sales.invariants import broken, sale_invariants
from sales.pipeline import orders as pipeline
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
