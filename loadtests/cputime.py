"""CPU time by process group, read from /proc: what each measured request cost, and whom.

Requests/s on a shared 2-core machine mixes the server's cost with everyone else's. CPU
seconds per request, split into the web workers, Redis, PostgreSQL and the load generator,
say where a difference between two endpoints comes from, and drift far less with the
machine's speed. Linux only; elsewhere every figure is absent and the benchmark still runs.

A snapshot keeps each process's own CPU, and a difference is taken process by process: a
process that started in between counts from zero, one that exited in between drops out
(instead of taking its whole past CPU away from the group's sum). PostgreSQL counts only the
backends serving the benchmark's own database when it is named: on a server that other people
use too, their backends' work is not ours (its shared writers are then left out as well).
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

PROC = Path("/proc")
GROUPS = ("web", "redis", "postgres", "load generator")
Snapshot = dict[str, dict[int, float]]  # group -> pid -> CPU seconds used so far


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


def _postgres_of(pid: int, database: str | None) -> bool:
    if _comm(pid) != "postgres":
        return False
    if database is None:
        return True
    try:  # a backend calls itself "postgres: [cluster: ]user database host(port) state"
        words = (PROC / str(pid) / "cmdline").read_bytes().decode(errors="replace").split()
    except OSError:
        return False
    words = words[1:]
    if words and words[0].endswith(":"):
        words = words[1:]
    return len(words) > 1 and words[1] == database


def snapshot(*, web_pid: int, redis_pid: int | None,
             database: str | None = None) -> Snapshot | None:
    """CPU seconds used so far by each process of each group (finished load generators, which
    this process started and waited for, as one entry)."""
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
    groups: Snapshot = {group: {} for group in GROUPS}
    groups["web"] = {pid: stats[pid][1] for pid in web if pid in stats}
    if redis_pid in stats and "redis" in _comm(redis_pid):
        groups["redis"] = {redis_pid: stats[redis_pid][1]}
    groups["postgres"] = {pid: cpu for pid, (_, cpu) in stats.items()
                          if _postgres_of(pid, database)}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    groups["load generator"] = {0: children.ru_utime + children.ru_stime}
    return groups


def used(before: Snapshot, after: Snapshot, group: str) -> float:
    """CPU seconds `group` used between two snapshots, process by process."""
    then = before.get(group, {})
    return sum(cpu - then.get(pid, 0.0) for pid, cpu in after.get(group, {}).items())


def per_request(before: Snapshot | None, after: Snapshot | None,
                requests: int) -> dict[str, float]:
    """Microseconds of CPU per request for each group between two snapshots."""
    if before is None or after is None or requests <= 0:
        return {}
    return {group: round(used(before, after, group) / requests * 1e6, 1) for group in GROUPS}


def trees(groups: dict[str, list[int]]) -> dict[str, float] | None:
    """CPU seconds used so far by each group of process trees (each root and every process
    below it), counting the processes alive now."""
    if not PROC.is_dir():
        return None
    stats = {int(p.name): s for p in PROC.iterdir() if p.name.isdigit()
             and (s := _stat(int(p.name))) is not None}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    result = {}
    for group, roots in groups.items():
        seen, frontier = set(), [pid for pid in roots if pid in stats]
        while frontier:
            pid = frontier.pop()
            if pid not in seen:
                seen.add(pid)
                frontier.extend(children.get(pid, []))
        result[group] = round(sum(stats[pid][1] for pid in seen), 3)
    return result
