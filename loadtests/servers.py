"""The web servers the stack can run the project on, each as one command line.

`make bench` measures all of them side by side on the same worker shape, and the stack, `manage.py
serve`, the replay and docker-compose.yml run the one that measured best (DEFAULT; the bench's
server table in BENCHMARKS.md says why). WEB_SERVER, WEB_WORKERS and WEB_THREADS in the
environment choose another server or shape without a code change.

The worker shape is (processes, threads per process). Threads mean request threads where the
server has them (gunicorn gthread's --threads, Granian's --blocking-threads). The event-loop
servers take one thread per process: gunicorn's gevent worker serves its connections from
greenlets, and Django under uvicorn runs every synchronous view on one thread per process.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

KINDS = ("gthread", "gevent", "granian", "uvicorn")
DEFAULT = "granian"
WSGI_APP = "config.wsgi:application"
ASGI_APP = "config.asgi:application"
# A shopper who pauses between two requests keeps the connection: a POST sent just as the
# server closes an idle one fails, and clients only resend GETs (gunicorn's default is 2 s).
KEEP_ALIVE_SECONDS = 20
BACKLOG = 2048
GEVENT_CONNECTIONS = 1000  # per process: gunicorn's default


@dataclass(frozen=True)
class Shape:
    """How the web tier is laid out: which server, how many processes and threads."""

    server: str = DEFAULT
    workers: int = 3
    threads: int = 2

    def __post_init__(self) -> None:
        if self.server not in KINDS:
            raise ValueError(f"unknown web server {self.server!r}; known: {', '.join(KINDS)}")
        if self.workers < 1 or self.threads < 1:
            raise ValueError("a web tier needs at least one process and one thread")

    def describe(self) -> str:
        threads = (f" x {self.threads} threads" if self.server in ("gthread", "granian")
                   else " (one thread each)")
        return f"{LABELS[self.server]}, {self.workers} processes{threads}"


LABELS = {"gthread": "gunicorn gthread", "gevent": "gunicorn gevent", "granian": "Granian WSGI",
          "uvicorn": "uvicorn ASGI"}


def shape_from_env(*, workers: int | None = None, threads: int | None = None,
                   server: str | None = None) -> Shape:
    """The shape asked for: explicit arguments first, then WEB_SERVER, WEB_WORKERS and
    WEB_THREADS, then the defaults."""
    env = os.environ
    return Shape(server=server or env.get("WEB_SERVER") or DEFAULT,
                 workers=workers or int(env.get("WEB_WORKERS") or Shape.workers),
                 threads=threads or int(env.get("WEB_THREADS") or Shape.threads))


def command(shape: Shape, *, host: str, port: int, app: str | None = None,
            access_log: bool = False, bin_dir: Path | None = None) -> list[str]:
    """The argv that serves `app` (a WSGI "module:callable"; None: the project itself, over
    ASGI on uvicorn) on host:port with `shape`. Each server runs in the foreground, stops
    gracefully on SIGTERM, and every process it starts stays in its process group."""
    bin_dir = bin_dir or Path(sys.executable).parent
    bind, workers, threads = f"{host}:{port}", str(shape.workers), str(shape.threads)
    if shape.server in ("gthread", "gevent"):
        argv = [str(bin_dir / "gunicorn"), app or WSGI_APP, "--bind", bind,
                "--workers", workers, "--backlog", str(BACKLOG),
                "--keep-alive", str(KEEP_ALIVE_SECONDS),
                "--access-logfile", "-" if access_log else "/dev/null"]
        if shape.server == "gthread":
            return [*argv, "--worker-class", "gthread", "--threads", threads]
        return [*argv, "--worker-class", "gevent",
                "--worker-connections", str(GEVENT_CONNECTIONS)]
    if shape.server == "granian":
        # Granian's default for WSGI is hundreds of blocking threads per process, all
        # contending for one GIL: the shape's threads instead. It keeps an idle connection
        # until the next request's headers are due (30 s), longer than KEEP_ALIVE_SECONDS.
        return [str(bin_dir / "granian"), "--interface", "wsgi", "--host", host,
                "--port", str(port), "--workers", workers, "--blocking-threads", threads,
                "--runtime-threads", "1", "--backlog", str(BACKLOG), "--no-ws",
                "--http", "1", "--http1-header-read-timeout", "30000",
                "--access-log" if access_log else "--no-access-log",
                "--workers-kill-timeout", "10", app or WSGI_APP]
    argv = [str(bin_dir / "uvicorn"), app or ASGI_APP, "--host", host, "--port", str(port),
            "--workers", workers, "--backlog", str(BACKLOG),
            "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS),
            "--access-log" if access_log else "--no-access-log",
            "--timeout-graceful-shutdown", "10", "--lifespan", "off"]
    return [*argv, "--interface", "wsgi"] if app else argv


def main() -> None:
    """`python -m loadtests.servers --host H --port P`: become the server WEB_SERVER,
    WEB_WORKERS and WEB_THREADS ask for (docker-compose's web service), by exec, so that it
    gets the container's signals itself."""
    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    argv = command(shape_from_env(), host=args.host, port=args.port)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
