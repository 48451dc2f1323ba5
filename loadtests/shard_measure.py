"""(s) The shard bench's measuring process, started by `loadtests.shard_bench` with its gate
client on a local Redis Cluster from the start: a live sale per run, the client processes
(the purchase service, or the same admit.lua call packed on plain sockets: the bare limit),
and the rounds, the rows taking turns. It flushes the cluster's masters between runs: never
point it at a cluster that holds anything else."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import sys
import time
from datetime import timedelta
from decimal import Decimal

from loadtests.shard_bench import (
    ADMISSIONS,
    BUYERS,
    CLIENTS,
    KINDS,
    OUT_OF_REACH,
    ROUNDS,
    SHARDS,
    Measured,
    ShardRow,
    describe,
)


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
