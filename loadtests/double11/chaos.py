"""`double11 --chaos`: the replay's own Redis, a seeded schedule of faults during the rush and
the second rush, and the thread that injects them.

The faults themselves are `loadtests.faults` (real processes, no mocks): Redis restarted from
an older snapshot (SAVE, keep selling, SHUTDOWN NOSAVE, restore, start on the same port),
FLUSHALL, CLIENT PAUSE, a Celery worker SIGKILLed mid-batch (a replacement is started; the
other worker claims the dead one's pending batch after PIPELINE_MIN_IDLE_MS) and, on
PostgreSQL, `pg_terminate_backend` of the app's connections mid-batch. What must still hold
afterwards is `loadtests.double11.verdict`.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.test import override_settings

from loadtests import faults
from loadtests.double11.plan import Plan
from loadtests.stack import Stack

# Which faults go where: the rush (spike and decay) and the second rush (the end of the
# payment window, when expired orders give units back). `snapshot` is the SAVE the restart
# later goes back to: what was sold in between is what Redis forgets.
RUSH = ("snapshot", "worker_kill", "restart", "pg_terminate")
SECOND_RUSH = ("flushall", "pause")
KINDS = ("restart", "flushall", "pause", "worker_kill", "pg_terminate")
PAUSE_MS = 2000
MID_BATCH_WAIT_S = 2.0      # how long a kill waits for a batch in flight before going ahead
MIN_IDLE_MS = 3000          # PIPELINE_MIN_IDLE_MS for the run (30 s by default)
LABELS = {"snapshot": "SAVE", "restart": "restart from SAVE", "flushall": "FLUSHALL",
          "pause": f"CLIENT PAUSE {PAUSE_MS}", "worker_kill": "worker SIGKILL",
          "pg_terminate": "pg_terminate_backend"}


@dataclass
class Fault:
    kind: str
    at_s: float                 # planned, seconds from T0
    window: str                 # "rush" or "second rush"
    label: str = ""
    since_s: float | None = None    # the band's start (a restart: its snapshot)
    until_s: float | None = None    # the band's end (a pause: its resumption)
    done_s: float | None = None     # when it really happened
    ok: bool = False
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def windows(plan: Plan) -> dict[str, tuple[float, float]]:
    """The rush (spike to the end of the decay) and the second rush (from the end of the first
    orders' payment window, when expired units come back, to the end of the payment phase),
    in seconds from T0."""
    rush = (plan.at("spike") - plan.t0, plan.end_of("decay") - plan.t0)
    pay_start, pay_end = plan.at("payment") - plan.t0, plan.end_of("payment") - plan.t0
    second = (min(max(pay_start, plan.payment_window_s + 1.0), pay_end - 2.0), pay_end - 0.5)
    return {"rush": rush, "second rush": second}


def schedule(plan: Plan, *, seed: int, kinds: tuple[str, ...] = KINDS) -> list[Fault]:
    """The run's faults, the same for the same seed and plan: each window is cut into one
    slot per fault, in a fixed order, and each fault lands at a seeded point of its slot."""
    rng = random.Random(f"double11-chaos-{seed}")
    wanted = set(kinds) | ({"snapshot"} if "restart" in kinds else set())
    result: list[Fault] = []
    for name, order in (("rush", RUSH), ("second rush", SECOND_RUSH)):
        start, end = windows(plan)[name]
        chosen = [kind for kind in order if kind in wanted]
        span = (end - start) / max(len(chosen), 1)
        for n, kind in enumerate(chosen):
            at = round(start + (n + rng.uniform(0.15, 0.75)) * span, 2)
            result.append(Fault(kind=kind, at_s=at, window=name, label=LABELS[kind]))
    snapshot = next((f for f in result if f.kind == "snapshot"), None)
    for fault in result:
        if fault.kind == "restart" and snapshot:
            fault.since_s = snapshot.at_s
        if fault.kind == "pause":
            fault.until_s = round(fault.at_s + PAUSE_MS / 1000, 2)
    return result


def private_redis(run_dir: Path) -> faults.RedisServer:
    """A redis-server of the run's own, RDB snapshots in the run's directory, on a fixed port
    for the whole run (a restart comes back on the same address)."""
    return faults.RedisServer(directory=run_dir / "redis").start()


def _forget_clients() -> None:
    from core import redis_client
    from sales.gate import hotline
    from sales.gate import keys as gate_keys

    for cached in (redis_client.connection, gate_keys.script):
        cached.cache_clear()
    hotline.forget()


@contextmanager
def redis_of_this_process(url: str):
    """Point this process (the replay: its samples, the sale's setup, the report) at `url`,
    as REDIS_URL points the stack's processes; back to the previous Redis on the way out."""
    cache = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": url}}
    with override_settings(REDIS_URL=url, CACHES=cache, CELERY_BROKER_URL=url):
        _forget_clients()
        try:
            yield
        finally:
            _forget_clients()


def stack_env(server: faults.RedisServer) -> dict[str, str]:
    return {"REDIS_URL": server.url, "PIPELINE_MIN_IDLE_MS": str(MIN_IDLE_MS)}


class Injector(threading.Thread):
    """Runs the schedule against the live stack, one fault at a time, each at its moment, and
    records what each one really did. A fault that fails is recorded, never raised: the run
    goes on and the verdict reports the fault as not injected."""

    def __init__(self, *, plan: Plan, plan_faults: list[Fault], server: faults.RedisServer,
                 stack: Stack, say: Callable[[str], None]) -> None:
        super().__init__(name="chaos", daemon=True)
        self.plan, self.faults, self.server, self.stack, self.say = (
            plan, plan_faults, server, stack, say)
        self.snapshot: Path | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        from django.db import connection

        try:
            for fault in self.faults:
                if self.stopped.wait(max(0.0, self.plan.t0 + fault.at_s - time.time())):
                    return
                fault.done_s = round(time.time() - self.plan.t0, 2)
                try:
                    fault.details = getattr(self, f"_{fault.kind}")() or {}
                    fault.ok = True
                except Exception as error:  # noqa: BLE001 - recorded in the report instead
                    fault.details = {"error": f"{type(error).__name__}: {error}"}
                self._bands(fault)
                self.say(f"chaos T{fault.done_s:+.1f}s {fault.label}: "
                         f"{'done' if fault.ok else 'FAILED'} {fault.details}")
        finally:
            connection.close()

    def _bands(self, fault: Fault) -> None:
        """The bands the charts draw, from when things really happened."""
        if fault.kind == "pause":
            fault.until_s = round(fault.done_s + PAUSE_MS / 1000, 2)
        if fault.kind == "restart":
            snapshot = next((f for f in self.faults if f.kind == "snapshot" and f.ok), None)
            fault.since_s = snapshot.done_s if snapshot else None

    # -- the faults ---------------------------------------------------------------------------
    def _snapshot(self) -> dict:
        keys = self.server.client().dbsize()
        self.snapshot = self.server.save()
        return {"keys": keys, "file": self.snapshot.name}

    def _restart(self) -> dict:
        if self.snapshot is None:
            raise RuntimeError("no snapshot to restart from")
        before, began = self.server.run_id, time.monotonic()
        self.server.restart_from(self.snapshot)
        return {"run_id_before": before, "run_id_after": self.server.run_id,
                "down_s": round(time.monotonic() - began, 2)}

    def _flushall(self) -> dict:
        keys = self.server.client().dbsize()
        self.server.flushall()
        return {"keys_flushed": keys}

    def _pause(self) -> dict:
        self.server.pause(PAUSE_MS)
        return {"ms": PAUSE_MS}

    def _in_flight(self) -> dict[int, int]:
        """pid -> entries pending with that consumer (a batch read and not yet written)."""
        from sales.gate.keys import PIPELINE_GROUP, SaleKeys

        client, deadline = self.server.client(), time.monotonic() + MID_BATCH_WAIT_S
        while True:
            try:
                consumers = client.xpending(SaleKeys(self.plan.sale_id).queue,
                                            PIPELINE_GROUP)["consumers"]
            except Exception:  # noqa: BLE001 - no queue (yet, or any more): nothing in flight
                consumers = []
            found = {int(c["name"].rsplit("-", 1)[1]): int(c["pending"]) for c in consumers
                     if int(c["pending"]) and c["name"].rsplit("-", 1)[1].isdigit()}
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def _worker_kill(self) -> dict:
        """SIGKILL a worker's whole process group (the batch's holder when one is in
        flight), then start its replacement."""
        workers = [name for name, _ in self.stack.processes if name.startswith("worker-")]
        in_flight = self._in_flight()
        groups = {}
        for pid, pending in in_flight.items():
            try:
                groups[os.getpgid(pid)] = pending
            except ProcessLookupError:
                pass
        victim = next((n for n in workers if self.stack.process(n).pid in groups), workers[0])
        process = self.stack.process(victim)
        pending = groups.get(process.pid, 0)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        replacement = self.stack.respawn(victim)
        return {"worker": victim, "pid": process.pid, "pending_in_its_batch": pending,
                "replacement_pid": replacement.pid}

    def _pg_terminate(self) -> dict:
        pending = sum(self._in_flight().values())
        return {"backends_terminated": faults.pg_terminate_backends(),
                "pending_in_batches": pending}
