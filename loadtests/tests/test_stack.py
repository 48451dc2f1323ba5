"""Stopping the stack: every process it started is gone afterwards, Ctrl-C pressed or not."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from loadtests import servers
from loadtests.faults import database_url, free_port
from loadtests.stack import Stack, stop_signals_deferred


def test_ctrl_c_inside_the_block_is_held_back_and_raised_at_its_end():
    reached_the_end = []
    with pytest.raises(KeyboardInterrupt):
        with stop_signals_deferred():
            with stop_signals_deferred():  # nested blocks defer to the outermost
                os.kill(os.getpid(), signal.SIGINT)
                reached_the_end.append("inner")
            reached_the_end.append("outer")
    assert reached_the_end == ["inner", "outer"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


STUBBORN = ("import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)")


@pytest.mark.slow
def test_a_second_ctrl_c_while_stopping_leaves_no_process_behind(tmp_path):
    """A process that ignores SIGTERM needs the SIGKILL that comes after the wait; Ctrl-C
    lands during that wait, and the stack still kills it before passing the Ctrl-C on."""
    stack = Stack(log_dir=tmp_path, stop_timeout=1.5)
    deaf = tmp_path / "deaf"
    stack._spawn("stubborn", [sys.executable, "-c", STUBBORN, str(deaf)])
    stack._spawn("polite", [sys.executable, "-c", "import time; time.sleep(60)"])
    processes = [process for _, process in stack.processes]
    deadline = time.monotonic() + 20
    while not deaf.exists() and time.monotonic() < deadline:  # deaf to SIGTERM from now on
        time.sleep(0.05)
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        stack.stop()
    assert all(process.poll() is not None for process in processes)
    assert processes[0].returncode == -signal.SIGKILL


def test_a_sigterm_inside_the_block_becomes_exit_status_143_at_its_end():
    with pytest.raises(SystemExit) as exit_:
        with stop_signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
    assert exit_.value.code == 143
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def _group_gone(pgid: int) -> bool:
    """No process of the group is left (killed workers may take a moment to be reaped)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", servers.KINDS)
def test_each_server_starts_serves_the_project_and_stops_with_all_its_processes(kind, tmp_path):
    stack = Stack(port=free_port(), web_server=kind, web_workers=2, web_threads=2,
                  celery_workers=0, beat=False, log_dir=tmp_path,
                  extra_env={"DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL})
    with stack:
        stack.wait_ready()
        web = stack.process("web")
        with urllib.request.urlopen(f"{stack.url}/api/v1/products", timeout=10) as reply:
            assert reply.status == 200 and json.loads(reply.read()) == []
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{stack.url}/api/v1/auth/whoami", timeout=10)
        assert refused.value.code == 401
        assert json.loads(refused.value.read())["error"]["code"] == "unauthenticated"
    assert web.returncode is not None and _group_gone(web.pid)
    assert stack.argvs["web"][0].endswith("gunicorn" if kind in ("gthread", "gevent") else kind)


@pytest.mark.slow
def test_a_server_that_ignores_sigterm_is_sigkilled_with_its_workers(tmp_path):
    """Granian's workers and the master alike: a stop that times out kills the group."""
    stack = Stack(port=free_port(), web_server="granian", web_workers=2, web_threads=1,
                  celery_workers=0, beat=False, log_dir=tmp_path, stop_timeout=1.0,
                  web_app="loadtests.limit:application", ready_path="/limit/bare")
    stack.start()
    try:
        stack.wait_ready()
        web = stack.process("web")
        os.kill(web.pid, signal.SIGSTOP)  # a master that cannot act on SIGTERM
    finally:
        stack.stop()
    assert web.returncode == -signal.SIGKILL and _group_gone(web.pid)


@pytest.mark.slow
@pytest.mark.parametrize("kind", servers.KINDS)
def test_each_server_serves_the_benchmarks_limit_app_in_the_projects_place(kind, tmp_path):
    stack = Stack(port=free_port(), web_server=kind, web_workers=1, web_threads=1,
                  celery_workers=0, beat=False, log_dir=tmp_path,
                  web_app="loadtests.limit:application", ready_path="/limit/bare")
    with stack:
        stack.wait_ready()
        request = urllib.request.Request(f"{stack.url}/limit/sales/1/purchase", data=b"{}",
                                         method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["error"]["code"] == "unauthenticated"
