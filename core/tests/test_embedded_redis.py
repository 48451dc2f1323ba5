"""The embedded redis-server: nothing starts when settings are imported; the first connection
of any client starts it, concurrent first users share one; its owner stops it at exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from core import embedded_redis

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_server(monkeypatch):
    """Let a test start and stop servers of its own without touching the suite's owner."""
    monkeypatch.setattr(embedded_redis, "_owned", None)
    monkeypatch.setattr(embedded_redis, "_owner_pid", None)


def servers_in(directory: Path) -> list[int]:
    """The pids of the redis-servers listening on `directory`'s socket (their title names it)."""
    socket_path = str((directory / embedded_redis.SOCKET).resolve()).encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
        except OSError:  # gone meanwhile
            continue
        if b"redis-server" in cmdline and socket_path in cmdline:
            found.append(int(entry.name))
    return found


def fresh_env(tmp_path: Path, directory: Path, **extra: str) -> dict[str, str]:
    """A process environment with no REDIS_URL: the embedded server in `directory`."""
    env = {name: value for name, value in os.environ.items() if name != "REDIS_URL"}
    return {**env, "EMBEDDED_REDIS_DIR": str(directory), "VAR_DIR": str(tmp_path / "var"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **extra}


def python(code: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, **kwargs)


SETUP = "import json, django; django.setup(); from core import embedded_redis; "
# What the child reports after its first use: the server it reached and whether it owns it.
REPORT = ("from core.redis_client import connection; "
          "print(json.dumps({'result': result, 'owner': embedded_redis._owned is not None, "
          "'server': connection().info('server')['process_id']}))")


def test_the_embedded_server_starts_on_demand_and_its_owner_stops_it(tmp_path, own_server):
    url = embedded_redis.ensure(tmp_path)
    client = redis.Redis.from_url(url)
    assert client.ping()
    server = embedded_redis._owned
    assert server is not None and server.poll() is None

    embedded_redis.shutdown()

    assert server.poll() is not None
    assert not (tmp_path / "redis.sock").exists()


def test_a_second_process_reuses_the_running_server_without_owning_it(tmp_path, own_server):
    url = embedded_redis.ensure(tmp_path)
    redis.Redis.from_url(url).set("left-by", "owner")
    child = subprocess.run(
        [sys.executable, "-c",
         "import sys, redis; from core import embedded_redis as e; "
         f"u = e.ensure({str(tmp_path)!r}); "
         "print(redis.Redis.from_url(u).get('left-by').decode(), e._owned is None)"],
        capture_output=True, text=True, check=True,
    )
    assert child.stdout.split() == ["owner", "True"]
    assert redis.Redis.from_url(url).ping()  # the child's exit did not stop it
    embedded_redis.shutdown()


def test_importing_settings_starts_nothing_and_names_the_socket(tmp_path):
    directory = tmp_path / "redis"
    child = python("import json; from config import settings as s; "
                   "print(json.dumps([s.REDIS_URL, s.CELERY_BROKER_URL]))",
                   fresh_env(tmp_path, directory), check=True)
    socket_path = directory.resolve() / "redis.sock"
    assert json.loads(child.stdout) == [f"unix://{socket_path}",
                                        f"embedded-redis+socket://{socket_path}"]
    assert not directory.exists()
    assert servers_in(directory) == []


@pytest.mark.slow
@pytest.mark.parametrize("command", [["check"], ["makemigrations", "--check", "--dry-run"]])
def test_management_commands_that_need_no_redis_start_none(tmp_path, command):
    directory = tmp_path / "redis"
    result = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT,
                            env=fresh_env(tmp_path, directory), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (directory / "redis.sock").exists()
    assert servers_in(directory) == []


FIRST_USES = {
    "cache": "from django.core.cache import cache; cache.set('k', 'v'); result = cache.get('k'); ",
    "factory": "from core.redis_client import connection; result = connection().ping(); ",
    "hot line": "from sales.gate import hotline; "
                "result = hotline.line('probe', lambda name: \"return {'ok', ARGV[1]}\")"
                "(keys=[], args=['x']); ",
    "celery": "from config.celery import app; app.send_task('sales.tasks.pipeline_tick'); "
              "from core.redis_client import connection; result = connection().llen('pipeline'); ",
}
RESULTS = {"cache": "v", "factory": True, "hot line": ["ok", "x"], "celery": 1}


@pytest.mark.slow
@pytest.mark.parametrize("use", FIRST_USES)
def test_the_first_use_of_any_client_starts_the_server_and_its_exit_stops_it(tmp_path, use):
    directory = tmp_path / "redis"
    child = python(SETUP + FIRST_USES[use] + REPORT, fresh_env(tmp_path, directory))
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    assert report["result"] == RESULTS[use]
    assert report["owner"] is True
    assert servers_in(directory) == []  # stopped by its owner on the way out
    assert not (directory / "redis.sock").exists()


@pytest.mark.slow
def test_processes_racing_to_first_use_share_one_server(tmp_path):
    """Each connects at the same instant, reports, and stays until told to go (so that the
    owner's exit cannot make a latecomer start another)."""
    directory = tmp_path / "redis"
    at = time.time() + 4  # after every child has set Django up
    code = (SETUP + f"import time; time.sleep(max(0, {at} - time.time())); "
            + FIRST_USES["cache"] + REPORT + "; import sys; sys.stdout.flush(); sys.stdin.read()")
    env = fresh_env(tmp_path, directory)
    children = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                for _ in range(4)]
    try:
        reports = [json.loads(child.stdout.readline()) for child in children]
        assert len(servers_in(directory)) == 1
    finally:
        for child in children:
            child.stdin.close()
            child.wait(timeout=30)
    assert {report["server"] for report in reports} == {reports[0]["server"]}
    assert sum(report["owner"] for report in reports) == 1
    assert all(report["result"] == "v" for report in reports)
    assert servers_in(directory) == []


@pytest.mark.slow
def test_with_redis_url_given_nothing_embedded_ever_starts(tmp_path):
    directory = tmp_path / "redis"
    env = fresh_env(tmp_path, directory, REDIS_URL=embedded_redis.url_in(directory))
    child = python(SETUP + "from django.core.cache import cache; cache.get('k')", env)
    assert child.returncode != 0 and "ConnectionError" in child.stderr
    assert servers_in(directory) == []


@pytest.mark.slow
def test_a_celery_worker_starts_the_server_on_its_first_connection(tmp_path):
    directory = tmp_path / "redis"
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
            cwd=ROOT, env=fresh_env(tmp_path, directory), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in log.read_bytes():
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert len(servers_in(directory)) == 1
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert servers_in(directory) == []  # the worker started it, so its exit stopped it


@pytest.mark.slow
def test_a_launcher_starts_the_server_before_its_child_and_outlives_the_child(tmp_path):
    """The fault scenarios' Celery worker gets REDIS_URL, so it never starts a server: its
    launcher does, before spawning it, and the server stays up when the worker is killed."""
    directory = tmp_path / "redis"
    code = (SETUP + "from django.conf import settings; "
            "from loadtests.faults.processes import CeleryWorker; "
            f"worker = CeleryWorker(redis_url=settings.REDIS_URL, log_dir={str(tmp_path)!r}); "
            "worker.start(); owner = embedded_redis._owned is not None; worker.kill(); "
            "from core.redis_client import connection; "
            "print(json.dumps([owner, connection().ping()]))")
    child = python(code, fresh_env(tmp_path, directory))
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == [True, True]
    assert servers_in(directory) == []


@pytest.mark.slow
def test_a_child_that_used_the_server_first_does_not_stop_it_under_its_parent(tmp_path):
    """Review of issue 14, point 5. A process that imported settings and then spawns a child
    which happens to connect first (runserver's autoreloader and its server process, a
    gunicorn master and its workers, any launcher but loadtests.stack) must not lose Redis
    when that child exits: before the lazy start the parent started and owned the server at
    settings import; now the child owns it, its exit stops it, and the parent's next command
    silently starts an empty one (the gates, the queue and the blacklist mirror are gone).
    `manage.py runserver` loses Redis on every autoreload; gunicorn on every worker recycle."""
    directory = tmp_path / "redis"
    child = ("import django; django.setup(); from core.redis_client import connection; "
             "connection().set('left-by', 'child')")
    code = (SETUP + "import subprocess, sys; "
            f"subprocess.run([sys.executable, '-c', {child!r}], check=True); "
            "from core.redis_client import connection; "
            "print(json.dumps(connection().get('left-by')))")
    parent = python(code, fresh_env(tmp_path, directory))
    assert parent.returncode == 0, parent.stderr
    assert json.loads(parent.stdout) == "child"
    assert servers_in(directory) == []


BUSY_SCRIPT = ("local deadline = tonumber(redis.call('TIME')[1]) + 60 "
               "while tonumber(redis.call('TIME')[1]) < deadline do end return 1")


@pytest.mark.slow
def test_a_server_busy_with_a_long_script_is_not_taken_for_a_dead_one(tmp_path, own_server):
    """Review of issue 14, point 5. Past lua-time-limit (5 s) a server answers BUSY to every
    command. `ensure` (which every Celery broker connection runs) took that for nobody
    answering and started a second redis-server on the same socket path: it takes the path
    over, so new connections reach an empty server while old ones keep the first (a split
    gate), and when its owner exits it removes the socket file, leaving the first server,
    with every key, unreachable."""
    import threading

    url = embedded_redis.ensure(tmp_path)
    redis.Redis.from_url(url).set("left-by", "first")
    probe = subprocess.Popen(
        [sys.executable, "-c", "import sys; from core import embedded_redis as e; "
         f"sys.stdin.readline(); e.ensure({str(tmp_path)!r}); "
         "print(e._owned is None, flush=True)"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    busy = redis.Redis.from_url(url, socket_timeout=120)

    def run_until_killed():
        try:
            busy.eval(BUSY_SCRIPT, 0)
        except redis.ResponseError:  # SCRIPT KILL, below
            pass

    script = threading.Thread(target=run_until_killed, daemon=True)
    try:
        script.start()
        deadline = time.monotonic() + 30
        while True:  # wait for BUSY: the server refuses commands while the script runs on
            try:
                redis.Redis.from_url(url, socket_timeout=1).ping()
            except redis.ResponseError as error:
                if "BUSY" in str(error):
                    break
            except redis.TimeoutError:
                pass
            assert time.monotonic() < deadline, "the script never made the server busy"
            time.sleep(0.2)
        probe.stdin.write("go\n")
        probe.stdin.flush()
        started_none = probe.stdout.readline().strip()
        servers = servers_in(tmp_path)
    finally:
        try:
            redis.Redis.from_url(url, socket_timeout=5).script_kill()
        except redis.RedisError:
            pass
        probe.stdin.close()
        probe.wait(timeout=60)
        script.join(timeout=30)
    try:
        assert started_none == "True"  # it found the server running and started none
        assert len(servers) == 1
        assert redis.Redis.from_url(url).get("left-by") == b"first"
    finally:
        embedded_redis.shutdown()
