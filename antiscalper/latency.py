"""How long linking takes to decide after an admission (issue 16, points 3 and 5): p50/p99
of a sale, from the timestamps already stored, for the replay's report and for ops
(`manage.py linking_latency <sale>`).

An account's clock starts when it was admitted (its first admitted attempt, `AttemptSignal.at`
as the gate saw it, or its first order of the sale if that came first) and, if its ring was
not complete then, when the member that completed it arrived (the latest first arrival among
the members its decision names, up to the decision): linking cannot decide a ring before its
members exist. It stops at the account's first linking decision that acts (its first block,
else its first decision; answers by ops in a case are not linking's). A decision taken before
the account was admitted (a ring linked at reservation, before T0) counts as 0 and is also
counted in `before_admission`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime

from django.db.models import Min

from antiscalper.holders import sliced
from antiscalper.models import AttemptSignal, Decision, RiskDecision
from shop.models import Order

ADMITTED = "admitted"


def _firsts(sale_id: int, users: set[int], **signal_filter) -> dict[int, datetime]:
    """Each account's first attempt of the sale (matching `signal_filter`) or first order."""
    first: dict[int, datetime] = {}
    for part in sliced(users):
        rows = [*AttemptSignal.objects.filter(sale_id=sale_id, user_id__in=part, **signal_filter)
                .values("user_id").annotate(t=Min("at")).values_list("user_id", "t"),
                *Order.objects.filter(sale_id=sale_id, user_id__in=part).values("user_id")
                .annotate(t=Min("created_at")).values_list("user_id", "t")]
        for user_id, at in rows:
            if user_id not in first or at < first[user_id]:
                first[user_id] = at
    return first


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def decision_latency(*, sale_id: int) -> dict:
    """{decided, before_admission, p50_ms, p99_ms, max_ms} over the sale's admitted accounts
    that linking decided (milliseconds; None where nothing was decided)."""
    acting: dict[int, RiskDecision] = {}
    for decision in RiskDecision.objects.filter(
            sale_id=sale_id, source=RiskDecision.Source.LINKING).order_by("created_at", "pk"):
        if decision.rules and decision.rules[0].get("action") == "ops":
            continue  # ops answered a case: not linking's own time
        held = acting.get(decision.user_id)
        if held is None or (held.decision != Decision.BLOCK
                            and decision.decision == Decision.BLOCK):
            acting[decision.user_id] = decision
    members: dict[int, list[int]] = defaultdict(list)
    for user_id, decision in acting.items():
        details = decision.rules[0].get("details", {}) if decision.rules else {}
        members[user_id] = details.get("members", [user_id])
    admitted = _firsts(sale_id, set(acting), verdict=ADMITTED)
    arrived = _firsts(sale_id, {m for ms in members.values() for m in ms})
    waits, before = [], 0
    for user_id, decision in acting.items():
        if user_id not in admitted:
            continue  # never admitted: nothing to decide before a payment
        ready = [arrived[m] for m in members[user_id]
                 if m in arrived and arrived[m] <= decision.created_at]
        start = max([admitted[user_id], *ready])
        wait = (decision.created_at - start).total_seconds() * 1000
        if decision.created_at < admitted[user_id]:
            before += 1
        waits.append(max(wait, 0.0))
    return {"decided": len(waits), "before_admission": before,
            "p50_ms": percentile(waits, 0.50), "p99_ms": percentile(waits, 0.99),
            "max_ms": max(waits) if waits else None}
