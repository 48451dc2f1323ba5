"""`manage.py bench --risk-only`: risk scoring timed the way the Celery task runs it.

`sales.pipeline.risk_feed.attempts_drain` drains a sale's attempts stream in batches: read,
parse, record (Redis counters and AttemptSignal rows), evaluate (rules over Redis and the
database, RiskDecision rows), cancel what was blocked, acknowledge. The benchmark seeds a
world (loadtests.risk_workload), fills a fresh sale's stream with the rush and times that
whole call on the real Redis and database. The figure is attempts per CPU second of this
process, which a shared 2-core machine disturbs far less than wall time; wall time, the
database server's CPU (PostgreSQL: this connection's backend) and Redis's (the whole server:
exact only on a private one) are shown beside it, and each stage's share.

Implementations are compared side by side in one run, in alternating order (ABBA), on the
same rush: "current" is the code as it is; others swap risk_feed's stages for another
version of them. Every implementation must reach the same decisions, explanations included.
"""

from __future__ import annotations

import cProfile
import gc
import os
import platform
import pstats
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from antiscalper import attempts, lookback, risk, rules
from antiscalper.models import RiskDecision, RuleSetting
from core.redis_client import connection as redis_connection
from loadtests import bench
from loadtests import risk_before as before
from loadtests import risk_workload as workload
from sales.pipeline import risk_feed

BATCH = 2000         # attempts_drain's default batch: what the Celery task reads at a time
TARGET = 10_000      # issue 15: attempts/s per core
STAGES = [           # (module, function, label): each call's CPU time is summed
    (risk_feed, "_read", "read the stream"),
    (risk_feed, "attempts_of", "parse (+ reservations query)"),
    (risk_feed, "attempts_record", "record (counters, AttemptSignal rows)"),
    (attempts, "_count", "  record: Redis counters"),
    (attempts, "rows_insert", "  record: AttemptSignal rows"),
    (risk_feed, "_risk", "evaluate (decisions, RiskDecision rows)"),
    (risk, "Facts", "  evaluate: database facts"),
    (before, "Facts", "  evaluate: database facts"),
    (risk, "_redis_reads", "  evaluate: Redis reads"),
    (before, "_redis_reads", "  evaluate: Redis reads"),
    (risk, "rows_insert", "  evaluate: RiskDecision rows"),
    (risk_feed, "blocked_orders_cancel", "cancel blocked orders"),
    (risk_feed, "_ack", "acknowledge"),
]


def implementations() -> dict[str, dict[str, Callable]]:
    """Name -> the risk_feed stages it swaps in: "before" is the path as it was before issue
    15 (frozen in loadtests/risk_before/), "current" the code as it is."""
    return {"before": {"attempts_of": before.attempts_of,
                       "attempts_record": before.attempts_record,
                       "risk_evaluate": before.risk_evaluate,
                       "_collector_paused": nullcontext},  # the collector ran then
            RULES_OF_BEFORE: {},
            "current": {}}


# The current code with only the rules the frozen path knows (issue 16's rules that look past
# the sale switched off, as sales/pipeline/tests/test_risk_parity.py does): its decisions are
# checked against the frozen path's; "current", every rule on, is the figure for the target.
RULES_OF_BEFORE = "current, rules of before"
# ... and the device's own F-code rule (the frozen path counts a device's guesses as the
# account's, which the current code does too with the cap off).
NEWER_RULES = (*lookback.CODES, "fcode_guessing_device")
RULES_OFF = {"before": NEWER_RULES, RULES_OF_BEFORE: NEWER_RULES}


@contextmanager
def rules_off(codes: tuple[str, ...]) -> Iterator[None]:
    """These rules switched off (as ops would, in their settings' rows) for one run, and
    with them the cap on copyable details' points the frozen scoring has not."""
    switched = list(RuleSetting.objects.filter(code__in=codes, enabled=True)
                    .values_list("code", flat=True))
    RuleSetting.objects.filter(code__in=switched).update(enabled=False)
    capped = rules.COPYABLE_CAPPED
    rules.COPYABLE_CAPPED = not codes and capped
    try:
        yield
    finally:
        rules.COPYABLE_CAPPED = capped
        RuleSetting.objects.filter(code__in=switched).update(enabled=True)


def add_arguments(parser) -> None:
    parser.add_argument("--risk-only", action="store_true",
                        help="only time risk scoring (loadtests/risk_bench.py); SQLite or "
                             "PostgreSQL, on a database whose name contains 'bench'")
    parser.add_argument("--risk-buyers", type=int, default=10_000)
    parser.add_argument("--risk-attempts", type=int, default=14_000)
    parser.add_argument("--risk-stock", type=int, default=8_000)
    parser.add_argument("--risk-rounds", type=int, default=3)
    parser.add_argument("--risk-profile", metavar="FILE",
                        help="also profile one run of the current code (cProfile) into FILE")


@dataclass
class Run:
    code: str
    attempts: int
    scored: int
    cpu_s: float
    wall_s: float
    postgres_s: float | None
    redis_s: float | None
    stages: dict[str, float] = field(default_factory=dict)          # CPU seconds
    decisions: list[tuple] = field(default_factory=list)            # in the rush's order


def fresh_database() -> None:
    """An empty database for every run, so runs compare (tables do not grow between them)."""
    db = settings.DATABASES["default"]
    if "bench" not in str(db["NAME"]):
        raise CommandError(f"the risk benchmark empties its database; {db['NAME']!r} does not "
                           "look like a benchmark database (its name must contain 'bench')")
    connection.close()
    if connection.vendor == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db['NAME']}{suffix}").unlink(missing_ok=True)
    elif connection.vendor == "postgresql":
        bench.ensure_database()
    else:
        raise CommandError(f"no fresh database for {connection.vendor}")
    call_command("migrate", verbosity=0)


@contextmanager
def swapped(replacements: dict[str, Callable]) -> Iterator[None]:
    saved = {name: getattr(risk_feed, name) for name in replacements}
    for name, function in replacements.items():
        setattr(risk_feed, name, function)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(risk_feed, name, function)


@contextmanager
def stages_timed(totals: dict[str, float]) -> Iterator[None]:
    """Sum the CPU time of each stage's calls into `totals` (label -> seconds), and the
    cyclic garbage collector's, which runs inside whichever stage allocates."""
    saved = []
    for module, name, label in STAGES:
        if not hasattr(module, name):
            continue
        inner = getattr(module, name)
        totals.setdefault(label, 0.0)

        def timed(*args, _inner=inner, _label=label, **kwargs):
            started = time.process_time()
            try:
                return _inner(*args, **kwargs)
            finally:
                totals[_label] += time.process_time() - started

        saved.append((module, name, inner))
        setattr(module, name, timed)
    started: list[float] = []

    def collecting(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(time.process_time())
        elif started:
            spent = time.process_time() - started.pop()
            totals["(of all the above) garbage collector"] = totals.get(
                "(of all the above) garbage collector", 0.0) + spent

    gc.callbacks.append(collecting)
    try:
        yield
    finally:
        gc.callbacks.remove(collecting)
        for module, name, inner in reversed(saved):
            setattr(module, name, inner)


def _postgres_cpu() -> float | None:
    """CPU seconds of this connection's PostgreSQL backend (a process on this machine)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _redis_cpu() -> float:
    cpu = redis_connection().info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def run_once(code: str, replacements: dict, world: tuple, planned: list, *, opens, stock: int,
             profile: cProfile.Profile | None = None) -> Run:
    """Fill a fresh sale's stream with the rush, then time one attempts_drain of it all."""
    shoppers, _ = world
    sale = workload.sale_open(shoppers, opens=opens, stock=stock)
    tickets = workload.stream_fill(sale, planned)
    totals: dict[str, float] = {}
    postgres, redis_cpu = _postgres_cpu(), _redis_cpu()
    with rules_off(RULES_OFF.get(code, ())), swapped(replacements), stages_timed(totals):
        if profile:
            profile.enable()
        cpu, wall = time.process_time(), time.perf_counter()
        moved = risk_feed.attempts_drain(sale_id=sale.pk, batch=BATCH, time_budget=3600)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if profile:
            profile.disable()
    postgres_after = _postgres_cpu()
    redis_cpu = _redis_cpu() - redis_cpu
    if moved != len(planned):
        raise CommandError(f"{code}: drained {moved} of {len(planned)} attempts")
    stored = {row[0]: row[1:] for row in RiskDecision.objects.filter(sale_id=sale.pk)
              .values_list("ticket", "decision", "score", "reason", "rules")}
    return Run(code=code, attempts=moved, scored=len(stored), cpu_s=cpu, wall_s=wall,
               postgres_s=None if postgres is None else postgres_after - postgres,
               redis_s=redis_cpu, stages=totals,
               decisions=[stored.get(ticket) if ticket else None for ticket in tickets])


def run(*, buyers: int, attempts: int, stock: int, rounds: int, say,
        profile_to: str | None = None, compare: bool = True,
        ) -> tuple[dict[str, list[Run]], list, dict]:
    """Time the risk path `rounds` times; with `compare`, the frozen path before issue 15
    too, in ABBA order."""
    say(f"seeding {buyers:,} buyers with personas and history")
    world = workload.world(buyers=buyers)
    planned = workload.rush(*world, attempts=attempts, stock=stock)
    opens = timezone.now() - timedelta(minutes=1)
    codes = implementations()
    names = list(codes) if compare else ["current"]
    runs: dict[str, list[Run]] = {name: [] for name in names}
    for n in range(rounds):
        for name in names if n % 2 == 0 else reversed(names):  # ABBA: drift hits all alike
            say(f"round {n + 1}/{rounds}: {name}")
            runs[name].append(run_once(name, codes[name], world, planned, opens=opens,
                                       stock=stock))
    if profile_to:
        say(f"profiling the current code into {profile_to}")
        profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
        run_once("current", {}, world, planned, opens=opens, stock=stock, profile=profiler)
        profiler.dump_stats(profile_to)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    return runs, planned, machine()


def machine() -> dict:
    cpu = "unknown"
    if Path("/proc/cpuinfo").exists():
        cpu = next((line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()" if connection.vendor == "sqlite"
                       else "SHOW server_version")
        version = cursor.fetchone()[0]
    url = urlsplit(settings.REDIS_URL)
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "database": f"{connection.display_name} {version}",
            "redis": f"Redis {redis_connection().info('server')['redis_version']} "
                     f"({url.scheme}://{url.hostname or ''}{url.path})",
            "date": timezone.now().strftime("%Y-%m-%d %H:%M %Z")}


def _median(runs: list[Run], value: Callable[[Run], float | None]) -> float | None:
    values = [v for v in map(value, runs) if v is not None]
    return statistics.median(values) if values else None


def _us(runs: list[Run], value: Callable[[Run], float | None]) -> str:
    seconds = _median(runs, value)
    return "" if seconds is None else f"{seconds / runs[0].attempts * 1e6:,.1f}"


def report(runs: dict[str, list[Run]], planned: list, info: dict, *, buyers: int) -> str:
    first = next(iter(runs.values()))[0]
    verdicts = Counter(p.verdict for p in planned)
    lines = [
        f"Measured {info['date']} on {info['cores']} cores ({info['cpu']}), Python "
        f"{info['python']}, {info['database']}, {info['redis']}; {buyers:,} buyers, "
        f"{first.attempts:,} attempts per run ({first.scored:,} admitted and scored; "
        f"verdicts {dict(verdicts.most_common())}), batches of {BATCH}, "
        f"{len(next(iter(runs.values())))} runs per implementation in ABBA order; medians.",
        "",
        "| code | attempts/s per core | scored/s per core | attempts/s wall | process CPU s "
        "| wall s | database server us/attempt | redis-server us/attempt |",
        "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, done in runs.items():
        cpu, wall = _median(done, lambda r: r.cpu_s), _median(done, lambda r: r.wall_s)
        lines.append(f"| {name} | {first.attempts / cpu:,.0f} | {first.scored / cpu:,.0f} "
                     f"| {first.attempts / wall:,.0f} | {cpu:.2f} | {wall:.2f} "
                     f"| {_us(done, lambda r: r.postgres_s)} | {_us(done, lambda r: r.redis_s)} |")
    labels = list(dict.fromkeys(label for done in runs.values() for r in done
                                for label in r.stages))
    lines += ["", "Process CPU per attempt by stage, microseconds (medians):", "",
              "| stage | " + " | ".join(runs) + " |", "|---|" + "---:|" * len(runs)]
    for label in labels:
        cells = [_us(done, lambda r, _l=label: r.stages.get(_l)) for done in runs.values()]
        lines.append(f"| {label.strip()} | " + " | ".join(cells) + " |")
    lines += ["", *_outcomes(runs, planned), "",
              f"risk scoring: {attempts_per_core_s(runs):,.0f} attempts/s per core "
              f"(target {TARGET:,})"]
    return "\n".join(lines)


def _outcomes(runs: dict[str, list[Run]], planned: list) -> list[str]:
    """Who was decided what (by persona), and whether every run decided the same."""
    reference = runs["current"][0].decisions
    table: dict[str, Counter] = {}
    for attempt, decision in zip(planned, reference, strict=True):
        if decision is not None:
            table.setdefault(attempt.shopper.persona, Counter())[decision[0]] += 1
    lines = ["| persona | allow | review | block |", "|---|---:|---:|---:|"]
    lines += [f"| {persona} | {c['allow']:,} | {c['review']:,} | {c['block']:,} |"
              for persona, c in sorted(table.items())]
    lines.append("")
    # runs are compared with the first run on the same rules: every rule, or the frozen path's
    for same in ({"current"}, set(runs) - {"current"}):
        group = [r for name in same & set(runs) for r in runs[name]]
        if not group:
            continue
        first = group[0].decisions
        differing = sum(1 for r in group for mine, theirs in zip(r.decisions, first, strict=True)
                        if mine != theirs)
        names = ", ".join(f'"{name}"' for name in runs if name in same)
        lines.append(f"{names}: decisions, scores, reasons and fired rules identical in all "
                     f"{len(group)} runs" if not differing else
                     f"{names}: DECISIONS DIFFER: {differing} tickets across runs")
    return lines


def attempts_per_core_s(runs: dict[str, list[Run]]) -> float:
    """The current code's attempts per second of its process's CPU (median of the runs)."""
    done = runs["current"]
    return done[0].attempts / _median(done, lambda r: r.cpu_s)


def command(cmd, **o) -> None:
    """The `--risk-only` branch of `manage.py bench`: print, write nothing."""
    fresh_database()
    runs, planned, info = run(buyers=o["risk_buyers"], attempts=o["risk_attempts"],
                              stock=o["risk_stock"], rounds=o["risk_rounds"],
                              say=lambda text: cmd.stdout.write(f"  {text}"),
                              profile_to=o.get("risk_profile"))
    if o["risk_rounds"]:
        cmd.stdout.write("\n" + report(runs, planned, info, buyers=o["risk_buyers"]))
