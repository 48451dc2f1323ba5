"""Stopping the stack: every process it started is gone afterwards, Ctrl-C pressed or not."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from loadtests.stack import Stack, ctrl_c_deferred


def test_ctrl_c_inside_the_block_is_held_back_and_raised_at_its_end():
    reached_the_end = []
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_deferred():
            with ctrl_c_deferred():  # nested blocks defer to the outermost
                os.kill(os.getpid(), signal.SIGINT)
                reached_the_end.append("inner")
            reached_the_end.append("outer")
    assert reached_the_end == ["inner", "outer"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def test_a_second_ctrl_c_while_stopping_leaves_no_process_behind(tmp_path):
    """A process that ignores SIGTERM needs the SIGKILL that comes after the wait; Ctrl-C
    lands during that wait, and the stack still kills it before passing the Ctrl-C on."""
    stack = Stack(log_dir=tmp_path, stop_timeout=1.5)
    stack._spawn("stubborn", [sys.executable, "-c", STUBBORN])
    stack._spawn("polite", [sys.executable, "-c", "import time; time.sleep(60)"])
    processes = [process for _, process in stack.processes]
    time.sleep(0.5)  # both running, the stubborn one deaf to SIGTERM
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        stack.stop()
    assert all(process.poll() is not None for process in processes)
    assert processes[0].returncode == -signal.SIGKILL
