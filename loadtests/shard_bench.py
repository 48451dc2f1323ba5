"""(s) A sale split over 1, 2 and 3 shards of a local Redis Cluster: admissions/s and CPU per
admission, each beside a bare limit measured in the same run on the same servers.

The gate's row is the purchase service (`sales.services.purchase_admit`, what the API calls)
in `clients` processes, each buyer routed to its bucket's master over its hot line. The bare
row sends the very same admit.lua call for a sale of as many shards, its keys and arguments
packed beforehand, over one plain socket per master: the least a client can do for the same
Redis work (the house rule: ratios against a bare limit on the same server, never against a
framework). Both are all admissions (stock, per-user limit, queue bound and rate limit out
of reach; refusals are counted and shown). CPU per admission is the redis-server processes'
(every node of the cluster, from /proc) plus the clients' own (their process time), divided
by the admissions; admissions/s is wall time from the first client's start to the last's end.
Rows take turns in rounds (reversed every other round), each measured on a new sale after
the masters are flushed, so that drift in the machine's load hits all rows alike.

On 2 shared cores more shards cannot be faster: the masters and the clients share the same
two cores, so splitting one Redis's work over three only adds the processes' switching. The
point of shards is more machines; what this measures is what one admission costs a shard,
which the capacity model (loadtests.capacity.shard_plan) turns into shards and hosts.

`manage.py bench --shards-only` starts a cluster (`core.local_cluster`, free ports), runs
`python -m loadtests.shard_measure --json` against it (a process of its own, whose gate client
is the cluster's from the start: `loadtests.shard_measure` holds the clients and the rounds),
prints the table and stops the cluster. This module is the bench's side: the rows, the
cluster's life, the table and the capacity lines.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

SHARDS = (1, 2, 3)
ADMISSIONS = 20_000   # per row and round
CLIENTS = 2           # client processes
ROUNDS = 3
BUYERS = 5_000
OUT_OF_REACH = {"GATE_QUEUE_BOUND": 100_000_000, "PURCHASE_RATE_LIMIT": 100_000_000}
KINDS = ("gate", "bare")


@dataclass(frozen=True)
class Measured:
    """One row's run: its admissions, refusals, wall seconds and CPU seconds."""

    admissions: int
    refused: int
    seconds: float
    redis_cpu_s: float
    client_cpu_s: float

    @property
    def rate(self) -> float:
        return self.admissions / self.seconds if self.seconds else 0.0

    def us(self, cpu_s: float) -> float:
        return cpu_s / self.admissions * 1e6 if self.admissions else 0.0

    @property
    def redis_us(self) -> float:
        return self.us(self.redis_cpu_s)

    @property
    def client_us(self) -> float:
        return self.us(self.client_cpu_s)

    @property
    def cpu_us(self) -> float:
        return self.redis_us + self.client_us


@dataclass
class ShardRow:
    """A shard count's gate and bare runs, round by round."""

    shards: int
    gate: list[Measured] = field(default_factory=list)
    bare: list[Measured] = field(default_factory=list)

    def median(self, kind: str, figure: str) -> float:
        return statistics.median(getattr(run, figure) for run in getattr(self, kind))

    def ratio(self, figure: str = "rate") -> tuple[float, float, float]:
        """Median, lowest and highest over the rounds of gate / bare, each round's own."""
        ratios = [getattr(g, figure) / getattr(b, figure) if getattr(b, figure) else 0.0
                  for g, b in zip(self.gate, self.bare, strict=True)]
        return statistics.median(ratios), min(ratios), max(ratios)

    def as_dict(self) -> dict:
        return {"shards": self.shards, "gate": [asdict(m) for m in self.gate],
                "bare": [asdict(m) for m in self.bare]}

    @classmethod
    def of(cls, data: dict) -> ShardRow:
        return cls(shards=data["shards"], gate=[Measured(**m) for m in data["gate"]],
                   bare=[Measured(**m) for m in data["bare"]])


def run_on_local_cluster(*, shards: tuple[int, ...] = SHARDS, admissions: int = ADMISSIONS,
                         clients: int = CLIENTS, rounds: int = ROUNDS,
                         say=lambda text: None) -> list[ShardRow]:
    """Start three masters from redis-server on free ports, measure, stop them: on normal
    exit, a failed round, Ctrl-C and SIGTERM alike (the measuring process, its clients and
    whatever they started are one process group, stopped as one)."""
    from core.local_cluster import cluster_start
    from loadtests.stack import group_stop, stop_signals_deferred

    sigterm = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with tempfile.TemporaryDirectory(prefix="shard-bench-") as directory:
            say("starting a Redis Cluster of three masters (core.local_cluster, free ports)")
            cluster = cluster_start(Path(directory), replica=False)
            measuring = None
            try:
                env = {**os.environ, "REDIS_CLUSTER_URL": cluster.url}
                measuring = subprocess.Popen(
                    [sys.executable, "-m", "loadtests.shard_measure", "--json",
                     "--shards", ",".join(map(str, shards)), "--admissions", str(admissions),
                     "--clients", str(clients), "--rounds", str(rounds)],
                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    cwd=Path(__file__).resolve().parent.parent, start_new_session=True)
                stdout, stderr = measuring.communicate()
            finally:
                with stop_signals_deferred():
                    if measuring is not None:
                        group_stop([measuring], timeout=10)
                    cluster.stop()
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    if measuring.returncode:
        raise RuntimeError(f"the shard bench failed:\n{stderr[-4000:]}")
    for line in stderr.splitlines():
        if line.startswith("  round "):
            say(line.strip())
    return [ShardRow.of(row) for row in json.loads(stdout)]


def redis_per_admission(rows: list[ShardRow]) -> float:
    """The cost of an admission to a shard, CPU seconds of redis-server: the largest of the
    shard counts' medians (a sale of more shards pays its router's answer once a process and
    the same admission on each master, so they should agree; the largest is the safe one)."""
    return max(row.median("gate", "redis_us") for row in rows) / 1e6


def capacity_lines(rows: list[ShardRow]) -> list[str]:
    """The capacity model's Redis Cluster for a scale-1 launch at this run's cost."""
    from loadtests import capacity

    load = capacity.launch_load()
    cost = redis_per_admission(rows)
    if not cost:  # /proc counts in 10 ms ticks: a run that short shows none
        return ["No Redis Cluster planned: Redis's CPU was not measurable in runs this short "
                "(under /proc's 10 ms tick); give (s) more admissions."]
    plan = capacity.shard_plan(attempts_rps=load.peak_attempts_rps, redis_per_admission=cost)
    return ["Redis Cluster for a scale-1 Mi 6 launch at this cost (loadtests.capacity."
            "shard_plan: every buyer but the browsers pressing buy once within 3 s, each "
            "attempt an admission at the gate, the largest Redis CPU per admission above):",
            "", *(f"- {line}" for line in capacity.shard_lines(plan))]


def describe(rows: list[ShardRow], *, cores: int | None = None) -> list[str]:
    """The table: per shard count, the gate's and the bare limit's admissions/s and CPU per
    admission, their ratios (median and range over rounds), and what 2 cores cannot show."""
    cores = cores or os.cpu_count() or 1
    lines = ["Admissions on a sale split over shards of a local Redis Cluster "
             "(loadtests.shard_bench; three masters from redis-server, no replica; medians "
             "over rounds; CPU per admission: every redis-server node plus the clients):", "",
             "| shards | row | admissions/s | Redis us | client us | CPU us | refused |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        for kind, label in (("gate", "gate: the purchase service"),
                            ("bare", "bare: the same EVALSHA, packed")):
            refused = sum(run.refused for run in getattr(row, kind))
            lines.append(f"| {row.shards} | {label} | {row.median(kind, 'rate'):,.0f} | "
                         f"{row.median(kind, 'redis_us'):,.1f} | "
                         f"{row.median(kind, 'client_us'):,.1f} | "
                         f"{row.median(kind, 'cpu_us'):,.1f} | {refused} |")
    lines += ["", "| shards | admissions/s gate / bare | CPU per admission gate / bare |",
              "|---:|---:|---:|"]
    for row in rows:
        rate, cpu = row.ratio("rate"), row.ratio("cpu_us")
        lines.append(f"| {row.shards} | {rate[0]:.2f} ({rate[1]:.2f} to {rate[2]:.2f}) | "
                     f"{cpu[0]:.2f} ({cpu[1]:.2f} to {cpu[2]:.2f}) |")
    lines += ["", f"Measured on {cores} cores shared by the masters, the clients and whatever "
              "else runs: more shards cannot show a speed-up here, only what a shard's "
              "admission costs (the point of shards is more machines, one master a core)."]
    if any(run.refused for row in rows for run in (*row.gate, *row.bare)):
        lines.append("WARNING: some attempts were refused; refusals cost less than "
                     "admissions, so those rows flatter the figures.")
    return lines
