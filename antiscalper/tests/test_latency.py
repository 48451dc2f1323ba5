"""Admission-to-decision time of linking: from stored timestamps, the clock starting when the
account was admitted and its ring complete; decisions before admission count as 0."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from antiscalper.attempts import ms_to_datetime
from antiscalper.latency import decision_latency, percentile
from antiscalper.models import RiskDecision
from antiscalper.tests.risk_helpers import T0, attempt, judge

pytestmark = pytest.mark.django_db


def _decide(user_id: int, after_ms: int, decision: str = "block", *, members: list[int],
            action: str = "block") -> None:
    RiskDecision.objects.create(
        sale_id=1, user_id=user_id, source="linking", decision=decision,
        created_at=ms_to_datetime(T0 + after_ms),
        rules=[{"code": "linked_cluster", "action": action, "details": {"members": members}}])


def test_the_clock_starts_when_the_ring_is_complete(make_customer):
    a, b, c, d = (make_customer().user_id for _ in range(4))
    judge(attempt(a, after_ms=1000), attempt(b, after_ms=2000), attempt(c, after_ms=9000),
          attempt(d, after_ms=1500, verdict="sold_out"))
    ring = [a, b, c, d]
    _decide(a, 10_000, members=ring)  # the ring was complete at 9 s (c): 1 s
    _decide(b, 10_000, "review", members=ring)
    _decide(b, 12_000, members=ring)  # b's block acts: 3 s after c completed the ring
    _decide(c, 9_500, members=ring)  # 0.5 s
    _decide(d, 10_000, "review", members=ring)  # never admitted: not counted
    _decide(a, 60_000, members=ring, action="ops")  # ops' answer: not linking's time
    found = decision_latency(sale_id=1)
    assert found == {"decided": 3, "before_admission": 0, "p50_ms": 1000.0,
                     "p99_ms": 3000.0, "max_ms": 3000.0}


def test_a_decision_before_admission_counts_as_zero(make_customer):
    a, b = (make_customer().user_id for _ in range(2))
    judge(attempt(a, after_ms=2000), attempt(b, after_ms=2000))
    _decide(a, -3_600_000, members=[a, b])  # blocked an hour before the opening
    _decide(b, 2_400, members=[a, b])
    found = decision_latency(sale_id=1)
    assert (found["before_admission"], found["p50_ms"], found["max_ms"]) == (1, 0.0, 400.0)


def test_the_command_prints_the_sale_and_its_json(make_customer):
    a = make_customer().user_id
    judge(attempt(a, after_ms=1000))
    _decide(a, 1250, members=[a])
    out = StringIO()
    call_command("linking_latency", "1", stdout=out)
    assert "p50 250 ms, p99 250 ms" in out.getvalue()
    out = StringIO()
    call_command("linking_latency", "1", "--json", stdout=out)
    assert json.loads(out.getvalue())["p99_ms"] == 250.0


def test_percentile_is_nearest_rank():
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.5)) == (
        50.0, 99.0, None)
