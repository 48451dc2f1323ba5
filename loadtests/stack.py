"""Starting and stopping the server stack: the web server, Celery worker(s) and beat.

The web server is one of loadtests.servers (Granian unless WEB_SERVER or `web_server` says
otherwise), on the worker shape asked for; `web_app` serves another WSGI app in its place on the
same server and shape (the benchmark's limit app, loadtests.limit).

Every process started here is stopped here too, on normal exit, on Ctrl-C and on SIGTERM.
The embedded Redis (if any) is started here before the children, so this process owns it and
it stops after them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from core import embedded_redis
from loadtests import servers

_deferring = False


@contextmanager
def stop_signals_deferred():
    """Stopping must finish: a second Ctrl-C (people press it twice) or a SIGTERM arriving
    mid-stop would otherwise abandon the processes not yet stopped, left running without an
    owner. Both are held back until the outermost such block ends, then acted on: SIGTERM as
    exit status 143, Ctrl-C as KeyboardInterrupt."""
    global _deferring
    if _deferring or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {number: signal.signal(number, lambda n, frame: received.append(n))
                for number in (signal.SIGINT, signal.SIGTERM)}
    _deferring = True
    try:
        yield
    finally:
        _deferring = False
        for number, handler in previous.items():
            signal.signal(number, handler)
    if signal.SIGTERM in received:
        raise SystemExit(143)
    if signal.SIGINT in received:
        raise KeyboardInterrupt


def group_stop(processes: list[subprocess.Popen], *, timeout: float) -> None:
    """SIGTERM each process's group (last started first), wait, then SIGKILL what is left."""
    for process in reversed(processes):
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for process in reversed(processes):
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        try:  # the leader hung, or left a worker behind (orphans keep the port): kill them all
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


@dataclass
class Stack:
    host: str = "127.0.0.1"
    port: int = 8000
    web_workers: int | None = None  # None: WEB_WORKERS, else servers.Shape's default
    web_threads: int | None = None  # None: WEB_THREADS, else servers.Shape's default
    web_server: str | None = None  # one of servers.KINDS; None: WEB_SERVER, else the default
    web_app: str | None = None  # a WSGI "module:callable" to serve instead of the project
    ready_path: str = "/api/v1/products"
    celery_workers: int = 1  # the pipeline's workers; with any, one risk and one housekeeping
    celery_concurrency: int = 2
    risk_workers: int = 1
    housekeeping_workers: int = 1
    beat: bool = True
    log_dir: Path = field(default_factory=lambda: Path(settings.VAR_DIR) / "logs")
    extra_env: dict[str, str] = field(default_factory=dict)
    stop_timeout: float = 15.0  # per process, then SIGKILL
    processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    argvs: dict[str, list[str]] = field(default_factory=dict)

    @property
    def shape(self) -> servers.Shape:
        return servers.shape_from_env(server=self.web_server, workers=self.web_workers,
                                      threads=self.web_threads)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _spawn(self, name: str, argv: list[str]) -> None:
        self.argvs[name] = argv
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")
        env = {**os.environ, **self.extra_env}
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   cwd=settings.BASE_DIR, start_new_session=True)
        self.processes.append((name, process))

    def start(self) -> None:
        embedded_redis.ensure_if_embedded(self.extra_env.get("REDIS_URL", settings.REDIS_URL))
        python = sys.executable
        bin_dir = Path(python).parent
        self._spawn("web", servers.command(self.shape, host=self.host, port=self.port,
                                           app=self.web_app, access_log=settings.DEBUG,
                                           bin_dir=bin_dir))
        for name, queue, concurrency in self.celery_roles():
            self._spawn(name, [
                python, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                "-Q", queue, "--concurrency", str(concurrency),
                "--hostname", f"{name.replace('-', '')}@%h", "--without-gossip", "--without-mingle",
            ])
        if self.beat:
            self._spawn("beat", [
                python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                "--schedule", str(Path(settings.VAR_DIR) / "celerybeat-schedule"),
            ])

    def celery_roles(self) -> list[tuple[str, str, int]]:
        """(process name, queue, concurrency) of each Celery worker: `worker-N` serve the order
        pipeline; with any of them, the risk and housekeeping queues get workers of their own
        (settings.CELERY_ROLES), so neither can hold the pipeline up."""
        if not self.celery_workers:
            return []
        workers = [(f"worker-{n}", "pipeline", self.celery_concurrency)
                   for n in range(self.celery_workers)]
        # two at once: linking's step every second is never stuck behind a long scoring batch
        workers += [(f"risk-{n}", "risk", 2) for n in range(self.risk_workers)]
        workers += [(f"housekeeping-{n}", "housekeeping", 1)
                    for n in range(self.housekeeping_workers)]
        return workers

    def process(self, name: str) -> subprocess.Popen:
        """The live process started under `name` (the latest, after a respawn)."""
        return next(p for n, p in reversed(self.processes) if n == name)

    def respawn(self, name: str) -> subprocess.Popen:
        """Start `name` again (its predecessor died: a chaos run killed it); the dead one
        is forgotten once it has exited."""
        self.processes = [(n, p) for n, p in self.processes if n != name or p.poll() is None]
        self._spawn(name, self.argvs[name])
        return self.process(name)

    def wait_ready(self, timeout: float = 60) -> None:
        """Block until the web server answers, or raise if a process died or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; "
                                       f"see {self.log_dir / (name + '.log')}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"the web server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        with stop_signals_deferred():
            group_stop([process for _, process in self.processes], timeout=self.stop_timeout)
        self.processes.clear()

    def __enter__(self) -> Stack:
        self._sigterm = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            signal.signal(signal.SIGTERM, self._sigterm)

    def watch(self) -> None:
        """Block until Ctrl-C or until a process dies."""
        while True:
            for name, process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}")
            time.sleep(0.5)
