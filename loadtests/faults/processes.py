"""The other processes to break: database connections killed (`pg_terminate_backends`),
and Celery workers started against the test database and SIGKILLed mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

STOP_SECONDS = 10.0


def pg_terminate_backends(*, exclude_self: bool = True) -> int:
    """Kill every other connection to this PostgreSQL database (as a failover or an admin
    would); returns how many. On SQLite there are no backends: 0."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0
    where = "datname = current_database()"
    if exclude_self:
        where += " AND pid <> pg_backend_pid()"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {where}")
        return sum(1 for (done,) in cursor.fetchall() if done)


def sigkill(pid: int) -> None:
    """SIGKILL a process: no cleanup, no atexit, no acknowledgement sent."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def database_url() -> str:
    """The URL of the database this process uses now (the test database under pytest), for
    child processes that must write to the same one."""
    from django.db import connection

    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    auth = quote(conf["USER"] or "") + (f":{quote(conf['PASSWORD'])}" if conf.get("PASSWORD")
                                         else "")
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"


class CeleryWorker:
    """A real `celery -A config worker --pool solo` process, on every role's queue unless
    told which (settings.CELERY_ROLES)."""

    def __init__(self, *, redis_url: str, name: str = "faults",
                 queues: tuple[str, ...] | None = None, log_dir: str | os.PathLike | None = None,
                 env: dict[str, str] | None = None) -> None:
        from django.conf import settings

        self.name = name
        queues = tuple(settings.CELERY_ROLES) if queues is None else queues
        self.log = Path(log_dir or tempfile.mkdtemp(prefix="faults-celery-")) / f"{name}.log"
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
                    "REDIS_URL": redis_url, "DATABASE_URL": database_url(), **(env or {})}
        self.argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
                     "-Q", ",".join(queues), "--hostname", f"{name}@%h", "--loglevel", "INFO",
                     "--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.cwd = settings.BASE_DIR
        self.process: subprocess.Popen | None = None

    def start(self, *, timeout: float = 30.0) -> CeleryWorker:
        """Start the worker and wait until it says it is ready (it logs "ready.")."""
        from core import embedded_redis

        # With REDIS_URL given, the worker never starts an embedded server: this process does
        # (if that is the URL), and outlives the worker.
        embedded_redis.ensure_if_embedded(self.env["REDIS_URL"])
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                            env=self.env, cwd=self.cwd, start_new_session=True)
        deadline = time.monotonic() + timeout
        while b" ready." not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"celery worker {self.name} did not start; see {self.log}")
            time.sleep(0.1)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the worker: whatever batch it holds stays pending in the stream."""
        if self.process is not None:
            sigkill(self.process.pid)
            self.process.wait(timeout=STOP_SECONDS)

    def stop(self) -> None:
        from loadtests.stack import group_stop

        if self.process is not None:
            group_stop([self.process], timeout=STOP_SECONDS)

    def __enter__(self) -> CeleryWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def task_send(*, broker_url: str, name: str, args: list | None = None) -> None:
    """Queue a Celery task on a given broker (the fault's Redis, not this process's). The app
    is the current one, the project's (importing the settings made it): an app never imports
    the project package."""
    from celery import current_app as app

    with app.connection_for_write(broker_url) as connection:
        app.send_task(name, args=args or [], connection=connection)
