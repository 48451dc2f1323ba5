"""`double11 --scale auto`: probe the started stack for a few seconds with the peak's own
request (loadtests/double11/probe.py), count only its 200s, and take the largest scale whose
planned peak fits within AUTO_MARGIN of the probe's slowest second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from loadtests.double11 import plan as model
from loadtests.double11.crowd import MAX_IN_FLIGHT
from loadtests.double11.lines import scale_text
from loadtests.stack import Stack
from sales import services
from shop.models import Sku
from shop.seeding import seed_catalog

# The whole load comes from one machine: the per-IP limits of the auth endpoints would
# otherwise throttle the simulated crowd (the purchase limit is per account and stays).
RUN_ENV = {"TRUSTED_PROXY_COUNT": "1", "RATE_TOKEN": "1000000/m",
           "RATE_REGISTER": "1000000/m", "RATE_RESERVATION": "1000000/m"}


class ProbeOptions(Protocol):
    """What the probe reads of the replay's Options (prepare.Options has both)."""

    probe_s: float
    locust_workers: int


AUTO_MARGIN = 0.7        # the planned peak at most this share of what the probe measured
AUTO_SCALES = tuple(sorted({round(m * 10.0 ** e, 7) for e in (-5, -4, -3)
                            for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)
                            if 0.00002 <= m * 10.0 ** e <= 0.002}))
PROBE_USERS = MAX_IN_FLIGHT     # as many requests in flight as the crowd allows itself


def scale_pick(capacity_rps: float, *, margin: float = AUTO_MARGIN) -> float:
    """The largest of AUTO_SCALES whose planned peak is within `margin` of the capacity (the
    smallest of them when none is)."""
    fitting = [s for s in AUTO_SCALES if model.planned_peak_rps(scale=s) <= margin * capacity_rps]
    return max(fitting) if fitting else AUTO_SCALES[0]


class ProbeFailed(RuntimeError):
    """`--scale auto` measured no answers: there is no scale to choose, the run stops."""


def capacity_probe(stack: Stack, options: ProbeOptions, out_dir: Path) -> float:
    """Requests/s the stack answers for the peak's request (the sale's live state, HTTP 200)
    from the replay's own Locust client, measured for `options.probe_s`: its slowest whole
    second after the first two (on a shared machine the rate drifts by tens of percent from
    one second to the next, and the spike may meet the slowest of them). Raises ProbeFailed,
    naming the probe's log, when the probe failed, timed out or measured no answers."""
    seed_catalog()
    now = timezone.now()
    sale = services.sale_create(
        sku=Sku.objects.get(code="MI6-64-BLK"), title="capacity probe (--scale auto)",
        price=Decimal("1999.00"), stock=1, per_user_limit=1,
        starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=1, minutes=1))
    probe_dir = out_dir / "probe"
    probe_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "locust", "-f", "loadtests/double11/probe.py", "--headless",
            "-u", str(PROBE_USERS), "-r", str(PROBE_USERS), "-t", f"{options.probe_s:g}s",
            "--host", stack.url, "--only-summary", "--exit-code-on-error", "0"]
    if options.locust_workers:
        argv += ["--processes", str(options.locust_workers)]
    path = f"/sales/{sale.pk}/live.json"
    env = {**os.environ, "D11_PROBE_PATH": path, "D11_PROBE_OUT": str(probe_dir),
           "PYTHONPATH": str(settings.BASE_DIR)}
    log_path = out_dir / "logs" / "probe.log"
    where = f"{stack.url}{path}"
    with open(log_path, "ab") as log:
        try:
            done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                  cwd=settings.BASE_DIR, timeout=options.probe_s + 60,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise ProbeFailed(f"--scale auto: the capacity probe of {where} did not finish "
                              f"within {options.probe_s + 60:g} s; see {log_path}") from None
    if done.returncode:
        raise ProbeFailed(f"--scale auto: the capacity probe of {where} exited with "
                          f"{done.returncode}; see {log_path}")
    answered, tried = probe_read(probe_dir)
    capacity = probe_rate(answered)
    if capacity <= 0:
        statuses = ", ".join(f"{'no answer' if s == '0' else s}: {n:,}"
                             for s, n in sorted(tried.items())) or "nothing sent"
        total = sum(answered.values())
        what = ("got no answer (no HTTP 200 of the live state" if not total else
                f"got too few answers to measure ({total:,} HTTP 200, and none in some whole "
                f"second after the ramp")
        raise ProbeFailed(f"--scale auto: the capacity probe of {where} {what} in "
                          f"{options.probe_s:g} s; tried, by status: {statuses}), so there is "
                          f"no scale to choose; see {log_path}")
    return capacity


def probe_read(probe_dir: Path) -> tuple[dict[int, int], dict[str, int]]:
    """The probe's 200s by the second, and what it tried by status, summed over processes."""
    answered: dict[int, int] = {}
    for path in probe_dir.glob("probe-*.json"):
        for second, n in json.loads(path.read_text()):
            answered[second] = answered.get(second, 0) + n
    tried: dict[str, int] = {}
    for path in probe_dir.glob("tried-*.json"):
        for status, n in json.loads(path.read_text()).items():
            tried[status] = tried.get(status, 0) + n
    return answered, tried


def probe_rate(answered: dict[int, int]) -> float:
    """The slowest whole second of a probe, its first two (the ramp) and its last (partial)
    left out; a second inside that span with no answer at all is a slowest second of 0."""
    seconds = sorted(answered)
    inside = range(seconds[2], seconds[-1]) if len(seconds) >= 3 else range(0)
    return float(min(answered.get(s, 0) for s in inside)) if inside else 0.0


def scale_choose(stack: Stack, options: ProbeOptions, out_dir: Path,
                 say: Callable[[str], None]) -> dict:
    capacity = capacity_probe(stack, options, out_dir)
    scale = scale_pick(capacity)
    planned = model.planned_peak_rps(scale=scale)
    choice = {"how": "auto", "scale": scale, "capacity_rps": round(capacity, 1),
              "probe_s": options.probe_s, "margin": AUTO_MARGIN,
              "planned_peak_rps": round(planned, 1),
              "fits": planned <= AUTO_MARGIN * capacity}
    shoppers, stock, _ = model.sizes(scale=scale)
    say(f"--scale auto: the stack answered {capacity:,.0f} requests/s of the peak's request "
        f"with a 200 in its slowest second (the sale's live state, {PROBE_USERS} Locust users, "
        f"{options.probe_s:g} s); scale "
        f"{scale_text(scale)} ({shoppers} shoppers, {stock} units) plans "
        f"{planned:,.0f}/s at the peak, "
        + (f"within {AUTO_MARGIN:.0%} of it" if choice["fits"] else
           f"MORE than {AUTO_MARGIN:.0%} of it even at the smallest scale offered"))
    return choice
