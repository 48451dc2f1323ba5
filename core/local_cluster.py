"""A real Redis Cluster on this machine: three masters and a replica of the first, started
from redis-server on free ports (the kernel's pick, so runs side by side never collide) in a
directory of their own, joined by `redis-cli --cluster create`, and stopped at the end
(`cluster_start`, `Cluster.stop`).

The `gate_cluster` fixture (sales.tests.fixtures) starts one per test, and the shard bench
(loadtests.shard_bench) one per run, without the replica. Each node is a child process; a
master can be killed (`kill`) under a running sale and its replica waited for
(`wait_promoted`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import RedisCluster

READY_SECONDS = 30.0
NODE_TIMEOUT_MS = 2000  # how long a silent master stays a master before its replica takes over


def _free_port() -> int:
    """A port free with its cluster bus port (port + 10000), the kernel's pick."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _wait(what: str, ready, seconds: float = READY_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the test cluster: {what} not within {seconds} s")


@dataclass
class Cluster:
    directory: Path
    masters: list[int]
    replica: int | None
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """A seed node's URL (the client learns the rest from it)."""
        alive = [port for port in self.ports if self.processes[port].poll() is None]
        return f"redis://127.0.0.1:{alive[0]}"

    @property
    def ports(self) -> list[int]:
        return [*self.masters, *([self.replica] if self.replica else [])]

    @property
    def pids(self) -> list[int]:
        """The nodes' process ids (to read their CPU from /proc)."""
        return [process.pid for process in self.processes.values()]

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, decode_responses=True,
                           socket_timeout=5)

    def master_of(self, key: str) -> int:
        """The port of the master serving `key`'s slot now."""
        seed = int(self.url.rsplit(":", 1)[1].split("/")[0])
        client = RedisCluster(host="127.0.0.1", port=seed)
        try:
            return int(client.get_node_from_key(key).port)
        finally:
            client.close()

    def _role(self, port: int) -> str:
        return self.client(port).info("replication")["role"]

    def kill(self, port: int) -> None:
        """SIGKILL one node: whatever it had not replicated yet is lost with it."""
        self.processes[port].kill()
        self.processes[port].wait(10)

    def wait_promoted(self) -> None:
        """After its master was killed: until the replica has taken over."""
        _wait("the replica's takeover", lambda: self._role(self.replica) == "master")
        self.wait_ok()

    def wait_ok(self, ports: list[int] | None = None) -> None:
        alive = [p for p in ports or self.ports if self.processes[p].poll() is None]
        _wait("cluster_state:ok", lambda: all(
            self.client(p).execute_command("CLUSTER INFO")["cluster_state"] == "ok"
            for p in alive))

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)


def _node(directory: Path, port: int) -> subprocess.Popen:
    home = directory / str(port)
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port),
         "--bind", "127.0.0.1", "--cluster-enabled", "yes",
         "--cluster-config-file", str(home / "nodes.conf"),
         "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
         "--cluster-replica-validity-factor", "0", "--dir", str(home), "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--logfile", str(home / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cluster_start(directory: Path, *, masters: int = 3, replica: bool = True) -> Cluster:
    """Three masters (slots split evenly by redis-cli) and, unless `replica` is False, a
    replica of the first."""
    ports = [_free_port() for _ in range(masters + int(replica))]
    cluster = Cluster(directory=directory, masters=ports[:masters],
                      replica=ports[masters] if replica else None)
    try:
        for port in ports:
            cluster.processes[port] = _node(directory, port)
        for port in ports:
            _wait(f"node {port}", lambda port=port: cluster.client(port).ping())
        subprocess.run(
            [shutil.which("redis-cli") or "redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{port}" for port in cluster.masters), "--cluster-yes"],
            check=True, capture_output=True, timeout=60)
        cluster.wait_ok(cluster.masters)
        if cluster.replica is None:
            return cluster
        first = cluster.client(cluster.masters[0])
        replica = cluster.client(cluster.replica)
        replica.execute_command("CLUSTER MEET", "127.0.0.1", cluster.masters[0])
        master_id = first.execute_command("CLUSTER MYID")
        _wait("the replica meeting its master", lambda: master_id in str(
            replica.execute_command("CLUSTER NODES")))
        replica.execute_command("CLUSTER REPLICATE", master_id)
        _wait("the replica in sync", lambda: replica.info("replication").get(
            "master_link_status") == "up")
        cluster.wait_ok()
    except BaseException:
        cluster.stop()
        raise
    return cluster
