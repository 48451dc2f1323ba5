"""`make bench`: the purchase path measured side by side with its floor and the textbook way.

(a) a trivial authenticated endpoint on the same stack (the floor), (b) the purchase endpoint
on a live sale through the Redis gate, (c) the same purchase the textbook way (a PostgreSQL
row lock per attempt, PURCHASE_STRATEGY=row_lock), (d) orders/s the pipeline writes to
PostgreSQL from the queue that (b) filled. (a) and (b) alternate in rounds so that drift in
the machine's load hits both; the load generator is a separate process.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from loadtests import cputime
from loadtests.stack import Stack
from sales import services
from sales.gate import admission
from sales.gate import keys as gate_keys
from sales.models import FlashSale
from sales.pipeline import orders as pipeline
from shop.models import Order, Sku
from shop.seeding import seed_catalog, seed_customers

TARGETS = {"b_over_a": 0.85, "b_over_c": 10.0, "pipeline_orders_per_s": 5000.0}


@dataclass
class Figures:
    rounds: dict[str, list[dict]] = field(default_factory=dict)
    pipeline: dict = field(default_factory=dict)

    def add(self, name: str, result: dict) -> None:
        self.rounds.setdefault(name, []).append(result)

    def rps(self, name: str) -> float:
        return statistics.median(r["rps"] for r in self.rounds[name])

    def paired_ratio(self, top: str, bottom: str) -> tuple[float, float, float]:
        """Median, lowest and highest of top/bottom over rounds measured back to back: this
        VM's speed drifts by tens of percent within a minute, a ratio of neighbours far less."""
        ratios = [t["rps"] / b["rps"] for t, b in zip(self.rounds[top], self.rounds[bottom],
                                                       strict=True)]
        return statistics.median(ratios), min(ratios), max(ratios)

    def latency(self, name: str, which: str) -> float:
        return statistics.median(r[which] for r in self.rounds[name])


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


def prepare(*, customers: int, tokens_file: Path) -> tuple[FlashSale, FlashSale, FlashSale]:
    """Customers with tokens, and two live sales big enough never to sell out mid-run."""
    seed_catalog()
    seed_customers(count=customers)
    users = get_user_model().objects.filter(username__startswith="fan").order_by("pk")[:customers]
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    tokens_file.write_text("\n".join(str(AccessToken.for_user(u)) for u in users) + "\n")
    sku = Sku.objects.get(code="MI9-128-BLK")
    now = timezone.now()
    common = {"sku": sku, "price": Decimal("2999.00"), "stock": 5_000_000, "per_user_limit": 100,
              "starts_at": now - timedelta(seconds=5), "ends_at": now + timedelta(hours=2)}
    gate_sale = services.sale_create(title="bench: Redis gate", **common)
    services.gate_load(sale_id=gate_sale.pk)
    row_lock_sale = services.sale_create(title="bench: row lock", **common)
    sold_out_sale = services.sale_create(title="bench: sold out", **{**common, "stock": 0})
    services.gate_load(sale_id=sold_out_sale.pk)
    return gate_sale, row_lock_sale, sold_out_sale


def load(url: str, method: str, tokens_file: Path, *, duration: float,
         concurrency: int, stack: Stack | None = None) -> dict:
    """One loadgen run; with the stack, also the CPU each answered request cost each group."""
    before = _cpu(stack)
    output = subprocess.run(
        [sys.executable, "-m", "loadtests.loadgen", "--url", url, "--method", method,
         "--tokens", str(tokens_file), "--duration", str(duration),
         "--concurrency", str(concurrency)],
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
    return cputime.snapshot(web_pid=stack.processes[0][1].pid, redis_pid=redis_pid)


def drain_all(sale_id: int) -> dict:
    """Time the pipeline writing every queued ticket of a sale as orders."""
    queued = admission.state(sale_id=sale_id).queued
    started = time.perf_counter()
    settled = 0
    while admission.state(sale_id=sale_id).queued:
        settled += pipeline.drain(sale_id=sale_id, batch=1000, time_budget=120)
    elapsed = time.perf_counter() - started
    orders = Order.objects.filter(sale_id=sale_id).count()
    return {"queued": queued, "settled": settled, "orders": orders, "seconds": round(elapsed, 2),
            "orders_per_s": round(settled / elapsed, 1) if elapsed else 0.0}


def run(*, customers: int, duration: float, concurrency: int, rounds: int, web_workers: int,
        web_threads: int, port: int, say) -> tuple[Figures, dict]:
    tokens_file = Path(settings.VAR_DIR) / "bench" / "tokens.txt"
    gate_sale, row_lock_sale, sold_out_sale = prepare(customers=customers,
                                                      tokens_file=tokens_file)
    figures = Figures()
    base, site = f"http://127.0.0.1:{port}/api/v1", f"http://127.0.0.1:{port}"

    def measure(stack: Stack, key: str, url: str, method: str = "GET") -> None:
        figures.add(key, load(url, method, tokens_file, duration=duration,
                              concurrency=concurrency, stack=stack))

    with Stack(port=port, web_workers=web_workers, web_threads=web_threads, celery_workers=0,
               beat=False) as stack:
        stack.wait_ready()
        paired = {"a": ("trivial authenticated endpoint", f"{base}/auth/whoami", "GET"),
                  "b": ("purchase through the Redis gate",
                        f"{base}/sales/{gate_sale.pk}/purchase", "POST")}
        for n in range(rounds):
            # ABBA order: a drift of the machine's speed during a pair hits both alike
            for key in ("ab" if n % 2 == 0 else "ba"):
                what, url, method = paired[key]
                say(f"round {n + 1}/{rounds}: ({key}) {what}")
                measure(stack, key, url, method)
        say("(e) purchase on a sold-out sale: answered from the process's memo")
        measure(stack, "e", f"{base}/sales/{sold_out_sale.pk}/purchase", "POST")
        say("(f) the storefront's sale page, as anonymous shoppers see it (shared, cached)")
        measure(stack, "f", f"{site}/sales/{gate_sale.pk}/")
        say("(g) the sale page's live state (JSON polled by the countdown)")
        measure(stack, "g", f"{site}/sales/{gate_sale.pk}/live.json")
    with Stack(port=port, web_workers=web_workers, web_threads=web_threads, celery_workers=0,
               beat=False, extra_env={"PURCHASE_STRATEGY": "row_lock"}) as stack:
        stack.wait_ready()
        say("(c) purchase the textbook way: a PostgreSQL row lock per attempt")
        measure(stack, "c", f"{base}/sales/{row_lock_sale.pk}/purchase", "POST")
    say("(d) the pipeline writes the queue that (b) filled to PostgreSQL")
    figures.pipeline = drain_all(gate_sale.pk)
    return figures, machine()


def verdict(value: float, target: float) -> str:
    return "met" if value >= target else "MISSED"


def report(figures: Figures, info: dict, *, web_workers: int, web_threads: int,
           concurrency: int, duration: float) -> str:
    b, c = figures.rps("b"), figures.rps("c")
    b_over_a, low, high = figures.paired_ratio("b", "a")
    d = figures.pipeline["orders_per_s"]
    rows = [
        ("(a) GET /auth/whoami (floor)", "a"), ("(b) POST /sales/{id}/purchase, gate", "b"),
        ("(c) POST /sales/{id}/purchase, row lock", "c"),
        ("(e) POST /sales/{id}/purchase, sold out", "e"),
        ("(f) GET /sales/{id}/ storefront page, anonymous", "f"),
        ("(g) GET /sales/{id}/live.json", "g"),
    ]
    lines = [
        "| measurement | requests/s | p50 ms | p99 ms | statuses |",
        "|---|---:|---:|---:|---|",
    ]
    for label, key in rows:
        statuses = {}
        for result in figures.rounds[key]:
            for code, count in result["statuses"].items():
                statuses[code] = statuses.get(code, 0) + count
        lines.append(f"| {label} | {figures.rps(key):,.0f} "
                     f"| {figures.latency(key, 'p50_ms'):.1f} "
                     f"| {figures.latency(key, 'p99_ms'):.1f} | {statuses} |")
    p = figures.pipeline
    lines.append(f"| (d) pipeline to PostgreSQL | {d:,.0f} orders/s | | | "
                 f"{p['settled']:,} tickets in {p['seconds']} s |")
    ratios = [
        "| target | measured | |", "|---|---:|---|",
        f"| (b) >= 0.85 x (a) | {b_over_a:.2f} x (paired rounds: {low:.2f} to {high:.2f}) "
        f"| {verdict(b_over_a, TARGETS['b_over_a'])} |",
        f"| (b) >= 10 x (c) | {b / c:.1f} x | {verdict(b / c, TARGETS['b_over_c'])} |",
        f"| (d) >= 5,000 orders/s | {d:,.0f} | "
        f"{verdict(d, TARGETS['pipeline_orders_per_s'])} |",
    ]
    setup = (f"{info['cores']} cores ({info['cpu']}), Python {info['python']}, PostgreSQL "
             f"{info['postgresql']}, Redis {info['redis']}; gunicorn {web_workers} gthread "
             f"workers x {web_threads} threads; load generator: 1 gevent process, {concurrency} "
             f"connections, {duration:.0f} s per measurement after 2 s warm-up; (a) and (b) in "
             f"{len(figures.rounds['a'])} rounds back to back (ABBA order), requests/s and "
             f"latencies their medians, (b)/(a) the median of the rounds' ratios")
    return "\n".join([f"Measured {info['date']} on {setup}.", "", *lines, "", *ratios, "",
                      *cpu_table(figures, rows), ""])


def cpu_table(figures: Figures, rows: list[tuple[str, str]]) -> list[str]:
    """Microseconds of CPU per answered request by process group (medians over rounds)."""
    measured = [(label, key) for label, key in rows
                if all(r.get("cpu_us") for r in figures.rounds[key])]
    if not measured:
        return []
    head = " | ".join(cputime.GROUPS)
    lines = ["CPU per answered request, microseconds (from /proc, medians over rounds):", "",
             f"| measurement | {head} | all |", "|---|" + "---:|" * (len(cputime.GROUPS) + 1)]
    for label, key in measured:
        per_group = [statistics.median(r["cpu_us"][g] for r in figures.rounds[key])
                     for g in cputime.GROUPS]
        cells = " | ".join(f"{value:,.0f}" for value in per_group)
        lines.append(f"| {label} | {cells} | {sum(per_group):,.0f} |")
    return lines
