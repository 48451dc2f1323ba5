"""Review of the shard bench (issue 17, point 5), attacked as an outsider would: stopped by
SIGTERM mid-run (a CI timeout, `kill`), `manage.py bench --shards-only` leaves no
redis-server of its cluster, no measuring process or client, and no temporary directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _until(ready, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, "the bench never got under way"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_bench_stopped_by_sigterm_leaves_no_process_and_no_directory(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}",
           "TMPDIR": str(tmp_path), "EMBEDDED_REDIS_DIR": str(tmp_path / "redis")}
    # The bench runs as from a shell, the root of its own embedded Redis: the test settings
    # a pytest-xdist worker passes on would give each of its processes a server of its own.
    for name in ("REDIS_CLUSTER_URL", "REDIS_URL", "EMBEDDED_REDIS_ROOT_PID",
                 "DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER"):
        env.pop(name, None)
    bench = subprocess.Popen(
        [sys.executable, "manage.py", "bench", "--shards-only", "--shards", "1",
         "--shard-admissions", "2000000", "--shard-rounds", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    me = psutil.Process(bench.pid)

    def measuring() -> list[psutil.Process]:  # the cluster's nodes, the measuring process
        return [p for p in me.children(recursive=True) if "shard_measure" in " ".join(p.cmdline())]

    try:
        # the measuring process has forked its clients: everything the bench starts is up
        _until(lambda: len(measuring()) >= 3)
        started = me.children(recursive=True)
        assert sum(p.name() == "redis-server" for p in started) >= 3
        bench.send_signal(signal.SIGTERM)
        bench.wait(timeout=60)
        gone, alive = psutil.wait_procs(started, timeout=15)
        assert alive == [], [" ".join(p.cmdline()) for p in alive]
        assert list(tmp_path.glob("shard-bench-*")) == []
    finally:  # what a failing run left behind: its processes, known by their directory
        bench.kill()
        for process in psutil.process_iter():
            try:
                if process.cwd().startswith(str(tmp_path)) or any(
                        str(tmp_path) in part for part in process.cmdline()) or \
                        "loadtests.shard_measure" in " ".join(process.cmdline()) and \
                        process.environ().get("TMPDIR") == str(tmp_path):
                    process.kill()
            except psutil.Error:
                pass
