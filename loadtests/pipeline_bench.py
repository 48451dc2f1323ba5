"""(d) alone: fill a sale's queue with in-process admissions, drain it to PostgreSQL, and say
orders/s and the CPU each order cost (this process and its PostgreSQL backend, from /proc).

`manage.py bench --pipeline-only` runs it once on the benchmark database. `python -m
loadtests.pipeline_bench --json` runs it on whatever code tree it is started in (the database
dropped and made anew first, as `make bench` does), which is how `loadtests.pipeline_ab`
compares two versions of the pipeline side by side: wall-clock orders/s on this shared 2-core
machine drift by tens of percent within minutes, CPU per order far less.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sales.gate.admission import Purchase

ADMISSIONS = 60_000
BUYERS = 5_000


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process from /proc (0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def sale_prepare(*, buyers: int = BUYERS):
    """Buyers and one live sale as `make bench` has them: limit 100, stock never running out."""
    from django.utils import timezone

    from sales import services
    from shop.models import Sku
    from shop.seeding import seed_catalog, seed_customers

    seed_catalog()
    seed_customers(count=buyers)
    now = timezone.now()
    sale = services.sale_create(
        title="bench: pipeline", sku=Sku.objects.get(code="MI9-128-BLK"),
        price=Decimal("2999.00"), stock=5_000_000, per_user_limit=100,
        starts_at=now - timedelta(seconds=5), ends_at=now + timedelta(hours=2))
    services.gate_load(sale_id=sale.pk)
    return sale


def queue_fill(sale_id: int, *, admissions: int = ADMISSIONS, buyers: int = BUYERS) -> int:
    """Admit `admissions` purchases spread over the first `buyers` customers, in process."""
    from django.contrib.auth import get_user_model

    from sales import services

    users = list(get_user_model().objects.filter(username__startswith="fan")
                 .order_by("pk").values_list("pk", flat=True)[:buyers])
    for n in range(admissions):
        services.purchase_admit(purchase=Purchase(sale_id=sale_id, user_id=users[n % len(users)]))
    return admissions


def drain_measured(sale_id: int, *, consumers: int = 1, batch: int = 1000) -> dict:
    """`bench.drain_all` (one consumer, batches of 1000: what (d) measures), or `consumers`
    worker processes draining the sale at once as a Celery worker's pool does, each its own
    consumer of the queue; with the CPU the drain cost the workers and their PostgreSQL
    backends."""
    from django.db import connections

    from loadtests import bench
    from shop.models import Order

    if consumers == 1 and batch == 1000:
        backend = _backend_pid()
        own, pg = time.process_time(), _cpu_seconds(backend)
        result = bench.drain_all(sale_id)
        own, pg = time.process_time() - own, _cpu_seconds(backend) - pg
    else:
        connections.close_all()  # not shared with the forked workers
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        workers = [context.Process(target=_consume, args=(sale_id, f"bench-{n}", batch, results))
                   for n in range(consumers)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        done = [results.get() for _ in workers]
        elapsed = time.perf_counter() - started
        for worker in workers:
            worker.join()
        settled, own, pg = (sum(column) for column in zip(*done, strict=True))
        orders = Order.objects.filter(sale_id=sale_id).count()
        result = {"settled": settled, "orders": orders, "seconds": round(elapsed, 2),
                  "orders_per_s": round(settled / elapsed, 1)}
    orders = max(result["orders"], 1)
    result.update(consumers=consumers, batch=batch,
                  cpu_us_per_order_python=round(own / orders * 1e6, 1),
                  cpu_us_per_order_postgres=round(pg / orders * 1e6, 1),
                  cpu_us_per_order=round((own + pg) / orders * 1e6, 1))
    return result


def _consume(sale_id: int, consumer: str, batch: int, results) -> None:
    """One worker process: drain until the queue is empty; report (settled, CPU seconds of
    this process, CPU seconds of its PostgreSQL backend)."""
    from sales.gate import holdings
    from sales.pipeline import orders as pipeline

    backend = _backend_pid()
    own, pg, settled = time.process_time(), _cpu_seconds(backend), 0
    while holdings.state(sale_id=sale_id).queued:
        drained = pipeline.drain(sale_id=sale_id, batch=batch, consumer=consumer,
                                 time_budget=120)
        settled += drained
        if not drained:  # the rest is another worker's batch in flight
            time.sleep(0.005)
    results.put((settled, time.process_time() - own, _cpu_seconds(backend) - pg))


def run(*, admissions: int = ADMISSIONS, buyers: int = BUYERS, consumers: int = 1,
        batch: int = 1000) -> dict:
    """One measurement on the configured database: prepare, fill, drain."""
    sale = sale_prepare(buyers=buyers)
    queue_fill(sale.pk, admissions=admissions, buyers=buyers)
    return drain_measured(sale.pk, consumers=consumers, batch=batch)


def describe(result: dict) -> str:
    who = (f"{result['consumers']} consumers in parallel" if result["consumers"] > 1
           else "one consumer")
    return (f"(d) pipeline to PostgreSQL, {who}, batches of {result['batch']:,}: "
            f"{result['orders_per_s']:,.0f} orders/s "
            f"({result['settled']:,} tickets, {result['orders']:,} orders in "
            f"{result['seconds']} s); CPU per order {result['cpu_us_per_order']:,.0f} us "
            f"(Python {result['cpu_us_per_order_python']:,.0f}, PostgreSQL backend "
            f"{result['cpu_us_per_order_postgres']:,.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admissions", type=int, default=ADMISSIONS)
    parser.add_argument("--buyers", type=int, default=BUYERS)
    parser.add_argument("--consumers", type=int, default=1,
                        help="worker processes draining at once (default 1, as (d))")
    parser.add_argument("--batch", type=int, default=1000, help="entries per batch")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from loadtests import bench

    bench.ensure_database()
    call_command("migrate", verbosity=0)
    result = run(admissions=args.admissions, buyers=args.buyers, consumers=args.consumers,
                 batch=args.batch)
    print(json.dumps(result) if args.json else describe(result))


if __name__ == "__main__":
    main()
