"""CPU time by process group, read from /proc: what each measured request cost, and whom.

Requests/s on a shared 2-core machine mixes the server's cost with everyone else's. CPU
seconds per request, split into the web workers, Redis, PostgreSQL and the load generator,
say where a difference between two endpoints comes from, and drift far less with the
machine's speed. Linux only; elsewhere every figure is absent and the benchmark still runs.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

PROC = Path("/proc")
GROUPS = ("web", "redis", "postgres", "load generator")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, or None if it is gone."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def _comm(pid: int) -> str:
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""


def snapshot(*, web_pid: int, redis_pid: int | None) -> dict[str, float] | None:
    """CPU seconds used so far by each group (finished load generators included)."""
    if not PROC.is_dir():
        return None
    stats = {int(p.name): s for p in PROC.iterdir() if p.name.isdigit()
             and (s := _stat(int(p.name))) is not None}
    web, frontier = {web_pid}, [web_pid]
    while frontier:  # the gunicorn master and every process below it
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in stats.items() if ppid == parent]
        web.update(children)
        frontier.extend(children)
    totals = dict.fromkeys(GROUPS, 0.0)
    totals["web"] = sum(stats[pid][1] for pid in web if pid in stats)
    if redis_pid in stats and "redis" in _comm(redis_pid):
        totals["redis"] = stats[redis_pid][1]
    totals["postgres"] = sum(cpu for pid, (_, cpu) in stats.items()
                             if _comm(pid) == "postgres")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    totals["load generator"] = children.ru_utime + children.ru_stime
    return totals


def per_request(before: dict | None, after: dict | None, requests: int) -> dict[str, float]:
    """Microseconds of CPU per request for each group between two snapshots."""
    if before is None or after is None or requests <= 0:
        return {}
    return {group: round((after[group] - before[group]) / requests * 1e6, 1)
            for group in GROUPS}
