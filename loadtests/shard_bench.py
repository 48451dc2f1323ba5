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
`python -m loadtests.shard_bench --json` against it (a process of its own, whose gate client
is the cluster's from the start), prints the table and stops the cluster.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
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


# ---- in the measuring process (its gate client is the cluster's) --------------------------

def _sale(shards: int) -> int:
    """A live sale of `shards` buckets, loaded, that no run can sell out."""
    from django.utils import timezone

    from sales import services
    from shop.models import Sku
    from shop.seeding import seed_catalog

    seed_catalog()
    now = timezone.now()
    sale = services.sale_create(
        title=f"bench: {shards} shard(s)", sku=Sku.objects.get(code="MI9-128-BLK"),
        price=Decimal("2999.00"), stock=5_000_000, per_user_limit=10_000, shards=shards,
        starts_at=now - timedelta(seconds=5), ends_at=now + timedelta(hours=2))
    services.gate_load(sale_id=sale.pk)
    return sale.pk


def _nodes() -> list[tuple[str, int]]:
    from sales.gate.keys import connection

    return [(node.host, int(node.port)) for node in connection().get_nodes()]


def _redis_pids() -> list[int]:
    from sales.gate.keys import connection

    client = connection()
    return [int(client.get_redis_connection(node).info("server")["process_id"])
            for node in client.get_nodes()]


def _flush() -> None:
    """Every master emptied between runs (the tickets' records, queues and attempts of the
    last run would otherwise fill memory); the scripts and the datasets stay."""
    from sales.gate.keys import connection

    client = connection()
    for node in client.get_primaries():
        client.get_redis_connection(node).flushall()


def _gate_client(sale_id: int, users: list[int], ready, start, answers) -> None:
    """A client process: the purchase service for each of its buyers, after a warm-up."""
    from core.errors import DomainError
    from sales import services
    from sales.gate.admission import Purchase

    def admit(user: int) -> bool:
        try:
            services.purchase_admit(purchase=Purchase(sale_id=sale_id, user_id=user))
            return True
        except DomainError:
            return False

    for user in users[:20]:  # lines opened, scripts cached, the router's count learnt
        admit(user)
    ready.put(os.getpid())
    start.wait()
    began, cpu = time.monotonic(), time.process_time()
    admitted = sum(admit(user) for user in users)
    answers.put((admitted, len(users) - admitted, began, time.monotonic(),
                 time.process_time() - cpu))


def _bare_calls(sale_id: int, shards: int, users: list[int]) -> list[tuple[int, bytes]]:
    """admit.lua's calls for these buyers, packed: (node index, the EVALSHA's bytes)."""
    import hiredis
    from django.utils import timezone

    from sales.gate.admission import DATASET_ARG, Purchase, admit_argv, admit_keys
    from sales.gate.keys import (
        bucket_keys,
        bucket_of,
        connection,
        dataset,
        epoch_ms,
        script_source,
        ticket_new,
    )

    client = connection()
    sha = client.script_load(script_source("admit"))
    for node in client.get_primaries():  # every master knows the script
        client.get_redis_connection(node).script_load(script_source("admit"))
    nodes = _nodes()
    every = bucket_keys(sale_id, shards)
    where = [nodes.index((n.host, int(n.port)))
             for n in (client.get_node_from_key(keys.meta) for keys in every)]
    stamps = [dataset(keys.meta) for keys in every]
    now_ms = epoch_ms(timezone.now())
    calls = []
    for user in users:
        purchase = Purchase(sale_id=sale_id, user_id=user)
        ticket = ticket_new(sale_id, user_id=user, issued_ms=now_ms)
        keys = admit_keys(purchase, ticket, shards=shards)
        args = admit_argv(purchase, ticket=ticket, now_ms=now_ms, shards=shards)
        bucket = bucket_of(user, shards)
        args[DATASET_ARG] = stamps[bucket]
        calls.append((where[bucket], hiredis.pack_command(("EVALSHA", sha, len(keys), *keys,
                                                           *args))))
    return calls


def _bare_client(calls: list[tuple[int, bytes]], ready, start, answers) -> None:
    """A client process: each packed call sent on its master's socket, its reply parsed."""
    import hiredis

    sockets = [socket.create_connection(address) for address in _nodes()]
    readers = [hiredis.Reader(encoding="utf-8") for _ in sockets]
    for node in range(len(sockets)):  # each socket connected and answering
        sockets[node].sendall(hiredis.pack_command(("PING",)))
        while readers[node].gets() is False:
            readers[node].feed(sockets[node].recv(65536))

    def call(node: int, packed: bytes):
        sockets[node].sendall(packed)
        while (reply := readers[node].gets()) is False:
            readers[node].feed(sockets[node].recv(65536))
        return reply

    ready.put(os.getpid())
    start.wait()
    began, cpu = time.monotonic(), time.process_time()
    admitted = sum(1 for node, packed in calls
                   if (reply := call(node, packed)) and reply[0] == "admitted")
    answers.put((admitted, len(calls) - admitted, began, time.monotonic(),
                 time.process_time() - cpu))


def _run(target, parts: list[tuple]) -> Measured:
    """Fork a client per part, start them at once, and add up what they did and cost."""
    from django.db import connections

    from loadtests import cputime

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    ready, start, answers = ctx.Queue(), ctx.Event(), ctx.Queue()
    # Daemons: when one dies or a wait times out, the others go with this process instead
    # of holding its exit (multiprocessing joins the other kind at exit, forever).
    clients = [ctx.Process(target=target, args=(*part, ready, start, answers), daemon=True)
               for part in parts]
    for process in clients:
        process.start()
    pids = _redis_pids()
    for _ in clients:  # every client warmed up and waiting: they start together
        ready.get(timeout=120)
    before = cputime.trees({"redis": pids}) or {"redis": 0.0}
    start.set()
    results = [answers.get(timeout=600) for _ in clients]
    after = cputime.trees({"redis": pids}) or {"redis": 0.0}
    for process in clients:
        process.join(timeout=60)
    return Measured(admissions=sum(r[0] for r in results), refused=sum(r[1] for r in results),
                    seconds=max(r[3] for r in results) - min(r[2] for r in results),
                    redis_cpu_s=after["redis"] - before["redis"],
                    client_cpu_s=sum(r[4] for r in results))


def _measure_one(kind: str, shards: int, admissions: int, clients: int) -> Measured:
    _flush()
    sale_id = _sale(shards)
    users = [1 + n % BUYERS for n in range(admissions)]
    slices = [users[n::clients] for n in range(clients)]
    if kind == "gate":
        return _run(_gate_client, [(sale_id, part) for part in slices])
    return _run(_bare_client, [(_bare_calls(sale_id, shards, part),) for part in slices])


def measure(*, shards: tuple[int, ...] = SHARDS, admissions: int = ADMISSIONS,
            clients: int = CLIENTS, rounds: int = ROUNDS, say=lambda text: None,
            ) -> list[ShardRow]:
    """Every shard count's gate and bare rows, in rounds, on the gate's cluster (which it
    flushes between runs: never point it at a cluster that holds anything else)."""
    from django.test import override_settings

    from core.redis_client import clustered

    if not clustered():
        raise RuntimeError("the shard bench needs the gate on a Redis Cluster "
                           "(REDIS_CLUSTER_URL)")
    rows = {n: ShardRow(shards=n) for n in shards}
    order = [(n, kind) for n in shards for kind in KINDS]
    with override_settings(**OUT_OF_REACH):
        for r in range(rounds):
            for n, kind in (order if r % 2 == 0 else order[::-1]):
                say(f"round {r + 1}/{rounds}: {kind}, {n} shard(s), {admissions} admissions "
                    f"from {clients} client(s)")
                getattr(rows[n], kind).append(_measure_one(kind, n, admissions, clients))
    _flush()
    return list(rows.values())


# ---- in the bench's process: a cluster of its own, the measuring process beside it --------

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
                    [sys.executable, "-m", "loadtests.shard_bench", "--json",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", default=",".join(map(str, SHARDS)))
    parser.add_argument("--admissions", type=int, default=ADMISSIONS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    rows = measure(shards=tuple(int(n) for n in options.shards.split(",")),
                   admissions=options.admissions, clients=options.clients,
                   rounds=options.rounds,
                   say=lambda text: print(f"  {text}", file=sys.stderr, flush=True))
    print(json.dumps([row.as_dict() for row in rows]) if options.json
          else "\n".join(describe(rows)))


if __name__ == "__main__":
    main()
