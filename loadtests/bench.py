"""`make bench`: the purchase measured side by side with its limit, its reference and servers.

(b) the purchase endpoint on a live sale through the Redis gate, on every web server of
loadtests.servers (same worker shape); (L) the limit app (loadtests.limit) doing the least a
Python web tier can for a purchase, and (bare) its constant answer, on the serving server; (a0)
DRF's whoami on gunicorn gthread, the reference of the issue that retired the old targets; (e)
the purchase on a sold-out sale; then once each (c) the purchase the textbook way (a
PostgreSQL row lock per attempt, PURCHASE_STRATEGY=row_lock), (f) and (g) the storefront's
page and live state, (d) orders/s the pipeline writes to PostgreSQL from the queue that (b)
filled on the serving server. Every server runs at once, each on its own port; the paired rows
take turns in rounds so that drift in the machine's load hits all of them alike. The load
generator is a separate process. The tables are loadtests.bench_report's.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from loadtests import cputime, limit, servers
from loadtests.bench_report import Figures, purchase_key
from loadtests.stack import Stack
from sales import services
from sales.gate import holdings
from sales.gate import keys as gate_keys
from sales.models import FlashSale
from sales.pipeline import orders as pipeline
from shop.models import Order, Sku
from shop.seeding import seed_catalog, seed_customers


def ensure_database() -> None:
    """A fresh PostgreSQL database for every run, so that runs compare (tables do not grow)."""
    db = settings.DATABASES["default"]
    if "bench" not in db["NAME"]:
        raise CommandError(f"the benchmark drops and recreates its database; {db['NAME']!r} "
                           "does not look like a benchmark database (its name must contain "
                           "'bench')")
    params = {"host": db.get("HOST") or "127.0.0.1", "port": db.get("PORT") or 5432,
              "user": db.get("USER") or "postgres", "dbname": "postgres",
              "password": db.get("PASSWORD") or None, "autocommit": True}
    with psycopg.connect(**params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def machine() -> dict:
    cpu = "unknown"
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "postgresql": postgres, "redis": gate_keys.connection().info("server")["redis_version"],
            "date": timezone.now().strftime("%Y-%m-%d %H:%M %Z")}


# Every (b) request must be an admission, as every (L) request is: a queue bound and a rate
# limit no run reaches (a refusal costs less and would flatter the ratios; the report warns).
LIMIT = "limit"  # the gate (L) admits on
ADMIT_EVERY_PURCHASE = {"GATE_QUEUE_BOUND": "100000000", "PURCHASE_RATE_LIMIT": "100000000"}


@dataclass(frozen=True)
class Sales:
    gate: dict[str, FlashSale]  # one per server, so that (d) drains what one server queued
    row_lock: FlashSale
    sold_out: FlashSale


def prepare(*, customers: int, tokens_file: Path, kinds: list[str]) -> Sales:
    """Customers with tokens, and live sales big enough never to sell out mid-run."""
    seed_catalog()
    seed_customers(count=customers)
    users = get_user_model().objects.filter(username__startswith="fan").order_by("pk")[:customers]
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    tokens_file.write_text("\n".join(str(AccessToken.for_user(u)) for u in users) + "\n")
    sku = Sku.objects.get(code="MI9-128-BLK")
    now = timezone.now()
    common = {"sku": sku, "price": Decimal("2999.00"), "stock": 5_000_000, "per_user_limit": 10_000,
              "starts_at": now - timedelta(seconds=5), "ends_at": now + timedelta(hours=2)}
    gate = {}
    for kind in kinds:
        gate[kind] = services.sale_create(title=f"bench: Redis gate, {kind}", **common)
        services.gate_load(sale_id=gate[kind].pk)
    row_lock = services.sale_create(title="bench: row lock", **common)
    sold_out = services.sale_create(title="bench: sold out", **{**common, "stock": 0})
    services.gate_load(sale_id=sold_out.pk)
    return Sales(gate=gate, row_lock=row_lock, sold_out=sold_out)


def load(url: str, method: str, tokens_file: Path, *, duration: float, concurrency: int,
         stack: Stack | None = None, generator: str = "auto") -> dict:
    """One loadgen run; with the stack, also the CPU each answered request cost each group."""
    before = _cpu(stack)
    output = subprocess.run(
        [sys.executable, "-m", "loadtests.loadgen", "--url", url, "--method", method,
         "--tokens", str(tokens_file), "--duration", str(duration),
         "--concurrency", str(concurrency), "--generator", generator],
        check=True, capture_output=True, text=True, cwd=settings.BASE_DIR,
    ).stdout
    result = json.loads(output)
    result["cpu_us"] = cputime.per_request(before, _cpu(stack), result["answered_all"])
    return result


def _cpu(stack: Stack | None) -> dict | None:
    if stack is None:
        return None
    try:
        redis_pid = int(gate_keys.connection().info("server")["process_id"])
    except (KeyError, ValueError):
        redis_pid = None
    return cputime.snapshot(web_pid=stack.processes[0][1].pid, redis_pid=redis_pid,
                            database=settings.DATABASES["default"]["NAME"])


def drain_all(sale_id: int) -> dict:
    """Time the pipeline writing every queued ticket of a sale as orders."""
    queued = holdings.state(sale_id=sale_id).queued
    started = time.perf_counter()
    settled = 0
    while holdings.state(sale_id=sale_id).queued:
        settled += pipeline.drain(sale_id=sale_id, batch=1000, time_budget=120)
    elapsed = time.perf_counter() - started
    orders = Order.objects.filter(sale_id=sale_id).count()
    return {"queued": queued, "settled": settled, "orders": orders, "seconds": round(elapsed, 2),
            "orders_per_s": round(settled / elapsed, 1) if elapsed else 0.0}


def run(*, customers: int, duration: float, concurrency: int, rounds: int, shape: servers.Shape,
        compared: list[str], port: int, say: Callable[[str], None],
        generator: str = "auto") -> tuple[Figures, dict]:
    """Every stack at once, the paired rows in rounds, then the single rows and (d)."""
    serving = shape.server
    compared = list(dict.fromkeys([*compared, serving]))
    kinds = list(dict.fromkeys([*compared, "gthread"]))
    tokens_file = Path(settings.VAR_DIR) / "bench" / "tokens.txt"
    # the limit (L) admits on a gate of its own, as each server's purchase does
    sales = prepare(customers=customers, tokens_file=tokens_file, kinds=[*kinds, LIMIT])
    limit.stock_set(gate_keys.connection(), sales.gate[serving].pk, 5_000_000)
    figures = Figures(serving=serving)

    def measure(stack: Stack, key: str, url: str, method: str = "GET") -> None:
        figures.add(key, load(url, method, tokens_file, duration=duration,
                              concurrency=concurrency, stack=stack, generator=generator))

    def project(kind: str, offset: int, extra_env: dict | None = None, **extra) -> Stack:
        return Stack(port=port + offset, web_server=kind, web_workers=shape.workers,
                     web_threads=shape.threads, celery_workers=0, beat=False,
                     extra_env={**ADMIT_EVERY_PURCHASE, **(extra_env or {})}, **extra)

    with ExitStack() as running:
        stacks = {kind: running.enter_context(project(kind, n)) for n, kind in enumerate(kinds)}
        stacks["L"] = running.enter_context(project(
            serving, len(kinds), web_app="loadtests.limit:application", ready_path="/limit/bare"))
        for stack in stacks.values():
            stack.wait_ready()
        paired = {"a0": ("gthread", "/api/v1/auth/whoami", "GET")}
        for kind in compared:
            paired[purchase_key(kind)] = (
                kind, f"/api/v1/sales/{sales.gate[kind].pk}/purchase", "POST")
        paired["L"] = ("L", f"/limit/sales/{sales.gate[LIMIT].pk}/admit", "POST")
        paired["L3"] = ("L", f"/limit/sales/{sales.gate[serving].pk}/purchase", "POST")
        paired["e"] = (serving, f"/api/v1/sales/{sales.sold_out.pk}/purchase", "POST")
        paired["bare"] = ("L", "/limit/bare", "GET")
        paired["bare_post"] = ("L", "/limit/bare", "POST")
        # the serving server's purchase beside its limit, the sold-out answer beside the bare GET
        order = ["a0", *(purchase_key(k) for k in compared if k != serving),
                 purchase_key(serving), "L", "L3", "e", "bare", "bare_post"]
        order = [key for key in order if key in paired]
        for n in range(rounds):
            for key in (order if n % 2 == 0 else order[::-1]):
                where, path, method = paired[key]
                say(f"round {n + 1}/{rounds}: ({key}) {method} {path} on "
                    f"{servers.LABELS[stacks[where].shape.server]}")
                measure(stacks[where], key, stacks[where].url + path, method)
        site = stacks[serving].url
        say("(f) the storefront's sale page, as anonymous shoppers see it (shared, cached)")
        measure(stacks[serving], "f", f"{site}/sales/{sales.gate[serving].pk}/")
        say("(g) the sale page's live state (JSON polled by the countdown)")
        measure(stacks[serving], "g", f"{site}/sales/{sales.gate[serving].pk}/live.json")
    with project(serving, 0, extra_env={"PURCHASE_STRATEGY": "row_lock"}) as stack:
        stack.wait_ready()
        say("(c) purchase the textbook way: a PostgreSQL row lock per attempt")
        measure(stack, "c", f"{stack.url}/api/v1/sales/{sales.row_lock.pk}/purchase", "POST")
    say("(d) the pipeline writes the queue that (b) filled to PostgreSQL")
    figures.pipeline = drain_all(sales.gate[serving].pk)
    limit.stock_set(gate_keys.connection(), sales.gate[serving].pk, 0)  # its queue's memory back
    return figures, machine()
