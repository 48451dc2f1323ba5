"""Stopping the stack: every process it started is gone afterwards, Ctrl-C pressed or not."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

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
