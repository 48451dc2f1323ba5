"""What a replay left behind, read back for its report: the anti-scalper module's flags, the
gate's attempts stream (or its kept copy), the shoppers' own labels, and Locust's CSVs."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from pathlib import Path

from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext_noop

from antiscalper.models import AttemptSignal, BlacklistEntry, RingCase, RiskDecision, live_q
from loadtests.double11.arrivals import Arrivals
from sales.gate import keys as gate_keys
from sales.models import StockReturn


def flagged_accounts(*, sale_id: int) -> tuple[set[int], str]:
    """The accounts the anti-scalper module flagged in this sale, and what was counted: a
    RiskDecision of "review" or "block" for the sale, or an active account BlacklistEntry."""
    flagged = set(RiskDecision.objects.filter(sale_id=sale_id, decision__in=["review", "block"])
                  .values_list("user_id", flat=True))
    values = BlacklistEntry.objects.filter(live_q(timezone.now()), kind="account") \
        .values_list("value", flat=True)
    flagged |= {int(v) for v in values if v.isdigit()}
    return flagged, gettext_noop("RiskDecision review/block + active account BlacklistEntry")


def decided_at(*, sale_ids: list[int]) -> dict[int, float]:
    """Each account's first flagging decision in these sales (a RiskDecision of review or
    block, its created_at), Unix seconds: when the anti-scalper module decided."""
    rows = RiskDecision.objects.filter(sale_id__in=sale_ids, decision__in=["review", "block"]) \
        .values("user_id").annotate(first=Min("created_at")).values_list("user_id", "first")
    return {user: first.timestamp() for user, first in rows}


def cancelled_at(*, sale_ids: list[int]) -> dict[int, float]:
    """Each account's first order of these sales cancelled (or refunded) for risk: when its
    unit went back to the gate (the StockReturn the cancellation wrote), Unix seconds."""
    rows = StockReturn.objects.filter(sale_id__in=sale_ids, reason="risk") \
        .values("order__user_id").annotate(first=Min("created_at")) \
        .values_list("order__user_id", "first")
    return {user: first.timestamp() for user, first in rows}


def ring_cases(*, sale_ids: list[int]) -> list[set[int]]:
    """The members of each ring case the linking pass wrote for these sales."""
    return [set(members) for members in RingCase.objects.filter(sale_id__in=sale_ids)
            .values_list("members", flat=True)]


def first_admissions(attempts: list[dict]) -> dict[int, float]:
    """Each account's first admitted attempt (the gate's attempts stream), Unix seconds."""
    first: dict[int, float] = {}
    for a in attempts:
        if a["verdict"] == "admitted":
            first[a["user"]] = min(first.get(a["user"], math.inf), a["at"] / 1000)
    return first


def attempts_of(*, sale_id: int, merged: bool = False) -> list[dict]:
    """Every decided purchase attempt the gate logged (its attempts stream), oldest first;
    `merged`: with the copy the signals drain kept of what the stream no longer holds (the
    drain deletes what it moved: a stream still holding some has lost the rest)."""
    client, key = gate_keys.connection(), gate_keys.SaleKeys(sale_id).attempts
    result, start = [], "-"
    while True:
        chunk = client.xrange(key, min=start, max="+", count=5000)
        if start != "-":
            chunk = chunk[1:]
        if not chunk:
            break
        result += [{"at": int(f["at"]), "user": int(f["user"]), "verdict": f["verdict"],
                    "ticket": f.get("ticket", "")} for _, f in chunk]
        start = chunk[-1][0]
    if result and not merged:
        return result
    # the stream is gone (drained: the drain deletes what it moved; trimmed; Redis lost): the
    # copy the signals drain kept; a Redis that lost part of it (a chaos run) gives its part,
    # and the copy the rest. (Reservations write signal rows of their own: not the gate's.)
    kept = [{"at": int(a.at.timestamp() * 1000), "user": a.user_id, "verdict": a.verdict,
             "ticket": a.ticket} for a in AttemptSignal.objects.filter(sale_id=sale_id)
            .exclude(kind="reservation").order_by("at")]
    seen = {(a["at"], a["user"], a["verdict"]) for a in result}
    return sorted(result + [a for a in kept if (a["at"], a["user"], a["verdict"]) not in seen],
                  key=lambda a: a["at"])


def labels_load(out_dir: Path) -> tuple[dict[str, dict], list[list]]:
    labels: dict[str, dict] = {}
    errors: Counter = Counter()
    for path in sorted(out_dir.glob("labels-*.json")):
        data = json.loads(path.read_text())
        labels.update(data["labels"])
        for name, status, code, n in data["errors"]:
            errors[(name, status, code)] += n
    return labels, [[*key, n] for key, n in sorted(errors.items(), key=lambda kv: -kv[1])]


def errors_at_load(out_dir: Path) -> list[list]:
    """[[unix second, status, code, count], ...]: the 5xx answers the shoppers saw, by second."""
    counts: Counter = Counter()
    for path in sorted(out_dir.glob("labels-*.json")):
        for second, status, code, n in json.loads(path.read_text()).get("errors_at", []):
            counts[(second, status, code)] += n
    return [[*key, n] for key, n in sorted(counts.items())]


def arrivals_load(out_dir: Path) -> Arrivals:
    """What the Locust processes tried and what arrived (was answered), by kind and by the
    Unix second each request was sent (journeys and crowd), and the crowd's planned requests
    that were dropped for want of a free slot (arrivals.py)."""
    result = Arrivals()
    for path in sorted(out_dir.glob("labels-*.json")):
        result.add(json.loads(path.read_text()))
    return result


def _csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _num(value, default: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(number) else number


def endpoints(out_dir: Path) -> list[dict]:
    rows = []
    for row in _csv(out_dir / "locust_stats.csv"):
        rows.append({"name": row["Name"], "method": row["Type"],
                     "requests": int(_num(row["Request Count"])),
                     "failures": int(_num(row["Failure Count"])),
                     "rps": round(_num(row["Requests/s"]), 1),
                     "p50_ms": _num(row["50%"]), "p95_ms": _num(row["95%"]),
                     "p99_ms": _num(row["99%"])})
    return rows


def history(out_dir: Path, t0: float) -> list[dict]:
    return [{"t": round(_num(r["Timestamp"]) - t0, 1), "users": int(_num(r["User Count"])),
             "rps": _num(r["Requests/s"]), "p50": _num(r["50%"]), "p95": _num(r["95%"]),
             "p99": _num(r["99%"])}
            for r in _csv(out_dir / "locust_stats_history.csv") if r["Name"] == "Aggregated"]
