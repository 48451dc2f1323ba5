"""One Double-11 replay: prepare the accounts and the sale, start the stack and Locust, watch,
stop everything that was started, and hand the samples to the report.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.db.models import Count
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from antiscalper import mirror
from antiscalper.models import AttemptSignal
from loadtests import cputime
from loadtests.double11 import ops_desk, setup
from loadtests.double11 import plan as model
from loadtests.double11.autoscale import scale_choose
from loadtests.double11.lines import scale_text
from loadtests.stack import Stack, group_stop, stop_signals_deferred
from sales import services
from sales.gate import admission
from sales.gate import keys as gate_keys
from sales.models import RejectedTicket, SaleMode
from sales.modes import fcodes
from shop.models import Order, Sku
from shop.seeding import DEMO_PASSWORD, seed_catalog, seed_customers, username_for

# The whole load comes from one machine: the per-IP limits of the auth endpoints would
# otherwise throttle the simulated crowd (the purchase limit is per account and stays).
# Phone codes go to Redis, where the rings' journeys read the code the server texted.
RUN_ENV = {"TRUSTED_PROXY_COUNT": "1", "RATE_TOKEN": "1000000/m",
           "RATE_REGISTER": "1000000/m", "RATE_RESERVATION": "1000000/m",
           "SMS_BACKEND": "shop.sms.RedisBackend"}


@dataclass
class Options:
    scale: float = 0.001
    time_scale: float = 0.05
    min_phase_s: float = 5.0
    seed: int = 0
    port: int = 8000
    web_workers: int = 3
    celery_workers: int = 1
    locust_workers: int = 0
    web: bool = False
    web_port: int = 8089
    keep: bool = False
    lead_s: float = 8.0
    bot_pause_s: float = 0.2
    live_login_share: float = 0.1
    scale_auto: bool = False            # measure the stack first, then pick the scale
    probe_s: float = 8.0
    out_dir: Path = field(default_factory=lambda: Path(settings.VAR_DIR) / "double11")
    ops_desk: bool = True               # a person on duty answers ring cases (ops_desk.py)
    chaos: bool = False                 # inject the faults of `chaos.py` on a seeded schedule
    faults: tuple[str, ...] = ()        # which (empty: all that this database allows)


def _fresh_accounts(count: int) -> list[str]:
    """`count` new seeded shoppers (after every existing fanNNNNNN), so no account carries
    history (reservations, flags, blacklist entries) from an earlier run into this one."""
    names = get_user_model().objects.filter(username__regex=r"^fan[0-9]+$") \
        .values_list("username", flat=True)
    start = max((int(name[3:]) for name in names), default=0) + 1
    seed_customers(count=count, start=start)
    return [username_for(i) for i in range(start, start + count)]


def prepare(options: Options, out_dir: Path) -> model.Plan:
    """Seed the shoppers, schedule the sale (reservations, F-code quota, a short payment
    window), issue the F-codes and write the plan the Locust processes read."""
    seed_catalog()
    shoppers, stock, quota = model.sizes(scale=options.scale)
    usernames = _fresh_accounts(shoppers)
    phases = model.timeline(time_scale=options.time_scale, min_phase_s=options.min_phase_s)
    window = model.payment_window_s(time_scale=options.time_scale,
                                    min_phase_s=options.min_phase_s)
    now = timezone.now()
    t0 = now + timedelta(seconds=options.lead_s - phases[0].starts_s)
    payment_end = next(p.ends_s for p in phases if p.name == "payment")
    # (A fresh per-run database reuses sale id 1: sale_create wipes what Redis kept for it.)
    sale = services.sale_create(
        sku=Sku.objects.get(code="MI6-64-BLK"),
        title=f"Double-11 replay x{options.scale:g}",
        price=Decimal("1999.00"), stock=stock, fcode_quota=quota,
        per_user_limit=model.PER_USER_LIMIT, mode=SaleMode.RESERVATION,
        reservation_opens_at=now, reservation_closes_at=t0, starts_at=t0,
        ends_at=t0 + timedelta(seconds=payment_end), payment_window=timedelta(seconds=window),
    )
    holders = model.fcode_holders_for(shoppers=shoppers, quota=quota)
    issued = fcodes.fcodes_issue(sale_id=sale.pk, count=holders, fan_level_min=2) if holders else []
    codes = {code.username: code.code for code in issued}
    mirror.mirror_rebuild()     # the blacklist mirror of *this* database (see fresh_sqlite)
    services.gate_load(sale_id=sale.pk)
    cast = model.cast(usernames=[u for u in usernames if u not in codes], fcodes=codes,
                      shoppers=shoppers, stock=stock, fcode_quota=quota, seed=options.seed)
    # Ages, phones, addresses and histories of the ring, reseller and trap personas; the
    # deposit pre-sale opens with the rush when anyone is cast to buy in it.
    setup.identities_apply(cast.accounts, now=t0)
    deposit = None
    if any(a.sale == "deposit" for a in cast.accounts):
        deposit = setup.deposit_sale_create(
            main=sale, title=f"Double-11 deposit pre-sale x{options.scale:g}")
    users = get_user_model().objects.in_bulk([a.username for a in cast.accounts],
                                             field_name="username")
    for account in cast.accounts:
        account.token = str(AccessToken.for_user(users[account.username]))
    plan = model.Plan(sale_id=sale.pk, t0=t0.timestamp(), ends_at=sale.ends_at.timestamp(),
                      time_scale=options.time_scale, min_phase_s=options.min_phase_s,
                      payment_window_s=window, per_user_limit=sale.per_user_limit,
                      password=DEMO_PASSWORD, phases=phases, accounts=cast.accounts,
                      out_dir=str(out_dir), seed=options.seed, bot_pause_s=options.bot_pause_s,
                      live_login_share=options.live_login_share, scale=options.scale,
                      baseline_rps=model.baseline_rps(cast.counts),
                      deposit_sale_id=deposit.pk if deposit else 0)
    plan.save(out_dir / "plan.json")
    return plan


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
    state = admission.state(sale_id=plan.sale_id)
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


def locust_start(plan: model.Plan, options: Options, base: str, out_dir: Path,
                 log: Callable[[str], None]) -> list[subprocess.Popen]:
    env = {**os.environ, "D11_PLAN": str(out_dir / "plan.json"),
           "D11_REDIS_URL": settings.REDIS_URL,      # the SMS outbox (shop.sms.RedisBackend)
           "D11_LOCUST_WORKERS": str(max(options.locust_workers, 1)),
           "PYTHONPATH": str(settings.BASE_DIR)}
    common = [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py"]
    main = [*common, "--host", base, "--csv", str(out_dir / "locust"),
            "--html", str(out_dir / "locust.html"), "--exit-code-on-error", "0",
            "--stop-timeout", "5"]
    if options.web:
        # The replay keeps the plan's clock, not a button's: the UI shows the run live, it
        # starts by itself, and Locust quits when the curve ends so that the report follows.
        main += ["--web-host", "127.0.0.1", "--web-port", str(options.web_port), "--autostart",
                 "--autoquit", "5"]
        log(f"Locust UI: http://127.0.0.1:{options.web_port} (live charts; the run starts by "
            f"itself, the sale opens at T0, {plan.t0 - time.time():.0f} s from now)")
    else:
        main += ["--headless"]
    if options.locust_workers:
        main += ["--master", "--expect-workers", str(options.locust_workers),
                 "--master-bind-port", str(options.port + 1557)]
    processes = []
    logs = out_dir / "logs"

    def spawn(name: str, argv: list[str]) -> None:
        handle = open(logs / f"{name}.log", "ab")
        processes.append(subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                          cwd=settings.BASE_DIR, start_new_session=True))

    spawn("locust", main)
    for n in range(options.locust_workers):
        spawn(f"locust-worker-{n}", [*common, "--worker", "--master-host", "127.0.0.1",
                                     "--master-port", str(options.port + 1557)])
    return processes


def processes_stop(processes: list[subprocess.Popen], timeout: float = 20) -> None:
    """SIGTERM (Locust writes its CSV and HTML on the way out), then SIGKILL."""
    with stop_signals_deferred():
        group_stop(processes, timeout=timeout)


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


def replay(options: Options, *, extra_env: dict[str, str] | None = None,
           say: Callable[[str], None] = print) -> dict:
    """Run the whole replay and return the report (also written to the run directory).

    With `options.chaos` the run owns a redis-server of its own (every process of the stack
    and this one use it), so that it can restart, flush and pause it."""
    run_id = time.strftime("%Y%m%d-%H%M%S")
    out_dir = Path(options.out_dir) / run_id
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    if not options.chaos:
        return _replay(options, out_dir, run_id, extra_env or {}, say)
    from loadtests.double11 import chaos

    server = chaos.private_redis(out_dir)
    say(f"chaos: a private redis-server on {server.url} (snapshots in {server.directory})")
    try:
        with chaos.redis_of_this_process(server.url):
            return _replay(options, out_dir, run_id,
                           {**(extra_env or {}), **chaos.stack_env(server)}, say, server=server)
    finally:
        server.kill()


def _chaos_faults(options: Options, plan: model.Plan, say: Callable[[str], None]) -> list:
    from loadtests.double11 import chaos

    kinds = tuple(options.faults or chaos.KINDS)
    if connection.vendor != "postgresql" and "pg_terminate" in kinds:
        kinds = tuple(k for k in kinds if k != "pg_terminate")
        say("chaos: pg_terminate_backend needs PostgreSQL; this run is on "
            f"{connection.vendor}, so it is left out")
    faults = chaos.schedule(plan, seed=options.seed, kinds=kinds)
    say(f"chaos (seed {options.seed}): " + ", ".join(
        f"T{f.at_s:+.1f}s {f.label}" for f in faults))
    return faults


def _replay(options: Options, out_dir: Path, run_id: str, extra_env: dict[str, str],
            say: Callable[[str], None], *, server=None) -> dict:
    from loadtests.double11 import report

    # A chaos run SIGKILLs a worker: another one must be there to claim its batch.
    workers = max(options.celery_workers, 2) if server else options.celery_workers
    stack = Stack(port=options.port, web_workers=options.web_workers,
                  celery_workers=workers, log_dir=out_dir / "logs",
                  extra_env={**RUN_ENV, **extra_env})
    series: list[dict] = []
    locusts: list[subprocess.Popen] = []
    injector = desk = None
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        stack.start()
        stack.wait_ready()
        choice = None
        if options.scale_auto:
            choice = scale_choose(stack, options, out_dir, say)
            options = replace(options, scale=choice["scale"])
        plan = prepare(options, out_dir)
        counts = {p: sum(1 for a in plan.accounts if a.persona == p) for p in model.PERSONAS}
        say(f"run {run_id}: scale {scale_text(options.scale)}, {len(plan.accounts)} "
            f"shoppers {counts}, "
            f"sale {plan.sale_id}, T0 in {plan.t0 - time.time():.0f} s, run ends "
            f"T+{plan.phases[-1].ends_s:.0f} s, {model.planned_peak_rps(scale=options.scale):,.0f}"
            f" requests/s planned at the peak; output {out_dir}")
        faults = _chaos_faults(options, plan, say) if server else []
        locusts = locust_start(plan, options, stack.url, out_dir, say)
        desk = _ops_desk(plan, options, stack.url, say) if options.ops_desk else None
        if server:
            from loadtests.double11.chaos import Injector

            injector = Injector(plan=plan, plan_faults=faults, server=server, stack=stack,
                                say=say)
            injector.start()
        # (a chaos run's gate counters restart with Redis: `verdict.settle` waits instead)
        watch(plan, locusts[0], out_dir, say, series, drain_timeout=5 if server else 90,
              cpu=lambda: tiers_cpu(stack, locusts))
        processes_stop(locusts)
        ops = None
        if desk is not None:
            desk.stopped.set()
            desk.join(timeout=30)
            ops = ops_desk.summary(desk.answers, read_s=desk.read_s)
        verdict = None
        if server:
            verdict = _chaos_verdict(plan, out_dir, faults, injector, options.seed, say)
        result = report.build(plan, series, out_dir, chaos=verdict, scale_choice=choice,
                              ops=ops)
        if options.keep:
            say(f"--keep: the store stays up on {stack.url} (Ctrl-C stops it)")
            stack.watch()
        return result
    except KeyboardInterrupt:
        say("interrupted: stopping every process this run started")
        raise
    finally:
        try:
            with stop_signals_deferred():
                if injector is not None:
                    injector.stopped.set()
                    injector.join(timeout=15)
                if desk is not None:
                    desk.stopped.set()
                processes_stop(locusts)
                stack.stop()
        finally:
            signal.signal(signal.SIGTERM, previous)


OPS_DESK_USER = "ops-desk"


def _ops_desk(plan: model.Plan, options: Options, base: str,
              say: Callable[[str], None]) -> ops_desk.OpsDesk:
    """The person on duty (ops_desk.py): a staff account of the "ops" group only, as
    `create_ops_user` makes it, reading and answering cases through the ops API."""
    call_command("setup_ops_group", stdout=StringIO())
    user, _ = get_user_model().objects.update_or_create(
        username=OPS_DESK_USER, defaults={"is_staff": True, "is_superuser": False})
    user.groups.set([Group.objects.get(name="ops")])
    read_s = max(2.0, ops_desk.READ_S_FULL_SPEED * options.time_scale)
    desk = ops_desk.OpsDesk(base=base, token=str(AccessToken.for_user(user)),
                            sale_ids=tuple(s for s in (plan.sale_id, plan.deposit_sale_id) if s),
                            read_s=read_s, say=say)
    desk.start()
    say(f"ops desk on duty: answers each ring case {read_s:.1f} s after it opens "
        f"({ops_desk.READ_S_FULL_SPEED:.0f} s at full speed)")
    return desk


def _chaos_verdict(plan: model.Plan, out_dir: Path, faults: list, injector, seed: int,
                   say: Callable[[str], None]) -> dict:
    """After the last fault: wait for the gate and the queue, then check the invariants."""
    from loadtests.double11 import verdict

    injector.join(timeout=max(0.0, plan.ends - time.time()) + 15)
    tickets = verdict.acknowledged(out_dir, sale_id=plan.sale_id)
    settled = verdict.settle(sale_id=plan.sale_id, tickets=tickets, say=say)
    return verdict.chaos_verdict(sale_id=plan.sale_id, t0=plan.t0, out_dir=out_dir,
                                 fault_list=faults, seed=seed, settled=settled,
                                 tickets=tickets)
