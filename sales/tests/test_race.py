"""Many buyers at once, in several processes, against the real Redis and database."""

from __future__ import annotations

import multiprocessing
import random

import pytest
from django.db import connections
from django.db.models import Count, Sum

from sales import services
from sales.gate import holdings
from sales.gate.admission import Purchase
from sales.pipeline import orders as pipeline
from shop.models import Order, OrderLine

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _rush(sale_id: int, buyers: list[int], attempts: int, seed: int, answers) -> None:
    """A child process: every buyer presses buy `attempts` times, some with retry keys."""
    rng = random.Random(seed)
    tally: dict[str, int] = {}
    for _ in range(attempts):
        rng.shuffle(buyers)
        for user_id in buyers:
            key = f"k{user_id}" if rng.random() < 0.5 else None
            try:
                services.purchase_admit(purchase=Purchase(
                    sale_id=sale_id, user_id=user_id, quantity=1, idempotency_key=key))
                tally["admitted"] = tally.get("admitted", 0) + 1
            except Exception as refusal:  # noqa: BLE001 - counting every refusal code
                code = getattr(refusal, "code", type(refusal).__name__)
                tally[code] = tally.get(code, 0) + 1
    answers.put(tally)


def _drain(sale_id: int, name: str) -> None:
    connections.close_all()
    pipeline.drain(sale_id=sale_id, consumer=name, batch=50, time_budget=30)


def test_2000_buyers_racing_for_100_units_get_exactly_100_orders(make_sale, buyer_ids):
    sale = make_sale(stock=100, limit=1)
    buyers = buyer_ids(2000)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    answers = ctx.Queue()
    chunks = [buyers[i::4] for i in range(4)]
    processes = [ctx.Process(target=_rush, args=(sale.pk, chunk, 2, i, answers))
                 for i, chunk in enumerate(chunks)]
    for process in processes:
        process.start()
    tallies = [answers.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    # Two pipeline workers drain concurrently, as in production.
    drainers = [ctx.Process(target=_drain, args=(sale.pk, f"w{i}")) for i in range(2)]
    for process in drainers:
        process.start()
    for process in drainers:
        process.join(timeout=120)
    pipeline.drain(sale_id=sale.pk, min_idle_ms=0)

    orders = Order.objects.filter(sale_id=sale.pk)
    units = OrderLine.objects.filter(order__sale_id=sale.pk).aggregate(u=Sum("quantity"))["u"]
    assert orders.count() == 100 and units == 100
    over_limit = orders.values("user_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not over_limit.exists()
    assert holdings.stock_left(sale_id=sale.pk) == 0
    fresh_admissions = sum(t.get("admitted", 0) for t in tallies)
    assert fresh_admissions >= 100  # includes idempotent replays of the winners' own tickets
    assert sum(t.get("sold_out", 0) for t in tallies) > 0
    assert not any(set(t) - {"admitted", "sold_out", "limit_reached"} for t in tallies)
