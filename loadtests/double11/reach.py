"""Arrivals at the peak against the plan: what the web tier answered each second, from the
Locust processes' logs, beside the plan's curve (achieved / planned, issue 15)."""

from __future__ import annotations

import math
from collections import Counter

from loadtests.double11.arrivals import KINDS, REFRESH
from loadtests.double11.plan import (
    Plan,
)

TARGETS = {"oversell": 0, "limit_violations": 0, "resolved_within_s": 60.0,
           "scalper_share_max": 0.02, "genuine_fpr_max": 0.005, "precision_min": 0.95,
           "recall_min": 0.90, "peak_reach_min": 0.80}


def ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def per_second(moments: list[float]) -> list[list[float]]:
    buckets = Counter(math.floor(m) for m in moments)
    return [[t, buckets[t]] for t in range(min(buckets), max(buckets) + 1)] if buckets else []


def peak_reach(plan: Plan, answered: dict[int, int], unsent: dict[int, int] | None = None, *,
               tried: dict[int, int] | None = None,
               by_kind: dict[str, dict[int, int]] | None = None,
               gate_attempts: list[float] | None = None) -> dict:
    """Achieved / planned arrivals at the peak: over the whole seconds inside the plan's peak
    phase (the spike), the requests the web tier answered (`answered`: by the second each
    was sent; arrivals.py) against the plan's (`Plan.planned_rps`); `tried` adds what was sent,
    answered or not. Locust's own requests/s is a 10-s moving average, which a 5-s spike
    would flatten, hence the shoppers' own log.

    What arrived is mostly one kind: `by_kind` (arrivals.KINDS) gives each kind's rate and
    the refreshes' share of the answered arrivals, and `gate_attempts` (the Unix moments of
    the attempts the gate decided) the purchase attempts a second at the gate."""
    peak = plan.peak
    first = math.ceil(plan.t0 + peak.starts_s)
    last = max(math.floor(plan.t0 + peak.ends_s), first + 1)
    seconds = range(first, last)
    planned = sum(plan.planned_rps(second + 0.5) for second in seconds)
    achieved = sum(answered.get(second, 0) for second in seconds)
    result = {"phase": peak.name, "from_s": round(first - plan.t0, 2),
              "to_s": round(last - plan.t0, 2), "seconds": len(seconds),
              "planned_rps": round(planned / len(seconds), 1),
              "achieved_rps": round(achieved / len(seconds), 1),
              "ratio": ratio(achieved, planned) if achieved else None,
              "best_second_rps": max((answered.get(second, 0) for second in seconds),
                                     default=0),
              "unsent": sum((unsent or {}).get(second, 0) for second in seconds)}
    if tried is not None:
        result["tried_rps"] = round(sum(tried.get(s, 0) for s in seconds) / len(seconds), 1)
    if by_kind is not None:
        counts = {kind: sum(by_kind.get(kind, {}).get(s, 0) for s in seconds) for kind in KINDS}
        result["by_kind_rps"] = {kind: round(n / len(seconds), 1) for kind, n in counts.items()}
        result["refresh_share"] = ratio(counts[REFRESH], achieved)
    if gate_attempts is not None:
        result["gate_attempts_rps"] = round(
            sum(1 for at in gate_attempts if first <= at < last) / len(seconds), 1)
    return result


def arrivals_series(plan: Plan, answered: dict[int, int]) -> tuple[list, list]:
    """Requests answered per second (by the second each was sent) and the plan's, as
    [[seconds from T0, requests/s], ...]."""
    if not answered:
        return [], []
    seconds = range(min(answered), max(answered) + 1)
    return ([[second - plan.t0, answered.get(second, 0)] for second in seconds],
            [[second - plan.t0, round(plan.planned_rps(second + 0.5), 1)] for second in seconds])
