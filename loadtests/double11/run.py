"""One Double-11 replay: prepare the accounts and the sale (prepare.py), start the stack,
Locust (locusts.py) and the ops desk, watch (watching.py), stop everything that was started,
and hand the samples to the report. A chaos run also owns a Redis and injects its faults.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from django.db import connection

from loadtests.double11 import ops_desk
from loadtests.double11 import plan as model
from loadtests.double11.autoscale import scale_choose
from loadtests.double11.lines import scale_text
from loadtests.double11.locusts import locust_start, processes_stop
from loadtests.double11.prepare import Options, prepare
from loadtests.double11.watching import tiers_cpu, watch
from loadtests.stack import Stack, stop_signals_deferred

__all__ = ["RUN_ENV", "Options", "prepare", "replay"]

# The whole load comes from one machine: the per-IP limits of the auth endpoints would
# otherwise throttle the simulated crowd (the purchase limit is per account and stays).
# Phone codes go to Redis, where the rings' journeys read the code the server texted.
RUN_ENV = {"TRUSTED_PROXY_COUNT": "1", "RATE_TOKEN": "1000000/m",
           "RATE_REGISTER": "1000000/m", "RATE_RESERVATION": "1000000/m",
           "SMS_BACKEND": "shop.sms.RedisBackend"}


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
        desk = ops_desk.on_duty(
            base=stack.url, sale_ids=tuple(s for s in (plan.sale_id, plan.deposit_sale_id) if s),
            time_scale=options.time_scale, say=say) if options.ops_desk else None
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
