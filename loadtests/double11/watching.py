"""Watching a replay: one sample a second of the gate (Redis) and the record (the database),
each tier's CPU so far, and the progress line, until every admitted ticket is settled.
"""

from __future__ import annotations

import csv
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import redis
from django.db import DatabaseError, connection
from django.db.models import Count

from antiscalper.models import AttemptSignal
from loadtests import cputime
from loadtests.double11 import plan as model
from loadtests.stack import Stack
from sales.gate import holdings
from sales.gate import keys as gate_keys
from sales.models import RejectedTicket
from shop.models import Order


def sample(plan: model.Plan, started: float) -> dict:
    """One look at the gate (Redis) and the record (database); in a chaos run either may be
    down for a moment, and the point says so instead of stopping the run."""
    try:
        return _sample(plan, started)
    except (redis.RedisError, DatabaseError) as error:
        connection.close()      # a killed backend: the next query opens a new connection
        now = time.time()
        phase = plan.phase_at(now)
        return {"t": round(now - plan.t0, 2), "phase": phase.name if phase else "",
                "error": type(error).__name__, "elapsed": round(now - started, 1),
                **dict.fromkeys(("stock_left", "fcode_left", "queued", "admitted", "orders",
                                 "paid", "expired", "rejected", "attempts_undrained",
                                 "signals_rush"))}


def _sample(plan: model.Plan, started: float) -> dict:
    """... and the risk feed: the attempts still in the gate's stream (the drain deletes what
    it moved) and the rush's attempts (decided before the decay's end) it has moved into the
    anti-scalper signals (AttemptSignal rows; reservations write theirs directly)."""
    state = holdings.state(sale_id=plan.sale_id)
    keys = gate_keys.SaleKeys(plan.sale_id)
    admitted = int(gate_keys.connection().get(keys.seq) or 0)
    undrained = gate_keys.connection().xlen(keys.attempts)
    rush_end = datetime.fromtimestamp(plan.end_of("decay"), tz=UTC)
    signals = AttemptSignal.objects.filter(sale_id=plan.sale_id, at__lt=rush_end) \
        .exclude(kind="reservation").count()
    statuses = dict(Order.objects.filter(sale_id=plan.sale_id).values_list("status")
                    .annotate(n=Count("id")).values_list("status", "n"))
    now = time.time()
    phase = plan.phase_at(now)
    return {"t": round(now - plan.t0, 2), "phase": phase.name if phase else "",
            "stock_left": state.stock_left, "fcode_left": state.fcode_stock_left,
            "queued": state.queued, "admitted": admitted, "orders": sum(statuses.values()),
            "paid": statuses.get("paid", 0), "expired": statuses.get("expired", 0),
            "rejected": RejectedTicket.objects.filter(sale_id=plan.sale_id).count(),
            "attempts_undrained": undrained, "signals_rush": signals,
            "elapsed": round(now - started, 1)}


def _users_now(out_dir: Path) -> str:
    path = out_dir / "locust_stats_history.csv"
    if not path.exists():
        return "-"
    with open(path, newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("Name") == "Aggregated"]
    return rows[-1]["User Count"] if rows else "-"


def tiers_cpu(stack: Stack, locusts: list[subprocess.Popen]) -> dict[str, float] | None:
    """CPU seconds so far of each tier's processes (the capacity model's inputs)."""
    try:
        redis_pid = int(gate_keys.connection().info("server")["process_id"])
    except (redis.RedisError, KeyError, ValueError):
        redis_pid = None
    named = {"web": [], "celery": [], "beat": []}
    celery = {name for name, _, _ in stack.celery_roles()}  # every role's workers
    for name, process in stack.processes:
        named["celery" if name in celery else name].append(process.pid)
    return cputime.trees({**named, "redis": [redis_pid] if redis_pid else [],
                          "locust": [p.pid for p in locusts]})


def watch(plan: model.Plan, master: subprocess.Popen, out_dir: Path, say: Callable[[str], None],
          series: list[dict], *, drain_timeout: float = 90,
          cpu: Callable[[], dict | None] | None = None) -> None:
    """Sample every second while Locust runs, then until every admitted ticket is settled
    and every attempt drained into the risk engine; `cpu` adds each tier's CPU seconds so far
    to every sample."""
    started, shown = time.time(), 0.0
    drained_since = None
    while True:
        point = sample(plan, started)
        if cpu is not None:
            point["cpu"] = cpu()
        series.append(point)
        running = master.poll() is None
        if "error" in point:
            say(f"T{point['t']:+7.1f}s {point['phase'] or '-':8} {point['error']} (gate or "
                f"record unreachable for this sample)")
            time.sleep(1.0)
            continue
        settled = (point["orders"] + point["rejected"] >= point["admitted"]
                   and not point["queued"] and not point["attempts_undrained"])
        if time.time() - shown >= 3 or not running:
            shown = time.time()
            say(f"T{point['t']:+7.1f}s {point['phase'] or ('done' if not running else '-'):8}"
                f" users {_users_now(out_dir):>5}  stock {point['stock_left']}"
                f"+{point['fcode_left']}f  queue {point['queued']:>4}  admitted "
                f"{point['admitted']:>4}  orders {point['orders']:>4}  paid {point['paid']:>4}"
                f"  expired {point['expired']:>3}  rejected {point['rejected']:>3}  attempts "
                f"undrained {point['attempts_undrained']:>4}")
        if not running and master.returncode and time.time() < plan.ends - 2:
            raise RuntimeError(f"Locust exited with {master.returncode} before the run ended; "
                               f"see {out_dir / 'logs' / 'locust.log'}")
        if not running:
            drained_since = drained_since or time.time()
            if settled or time.time() - drained_since > drain_timeout:
                return
        time.sleep(1.0)
