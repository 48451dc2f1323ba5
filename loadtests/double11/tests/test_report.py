"""The report's arrivals at the peak come from what the shoppers recorded sending."""

from __future__ import annotations

import json
import math

import pytest

from loadtests.double11 import report
from loadtests.double11.run import Options, prepare


def arrivals_written(path, seconds: range, per_second: int) -> None:
    path.write_text(json.dumps({"labels": {}, "errors": [], "errors_at": [],
                                "arrivals": [[s, per_second] for s in seconds],
                                "unsent": [[seconds[0], 7]]}))


@pytest.mark.django_db
def test_achieved_over_planned_at_the_peak_is_the_recorded_arrivals_against_the_plan(tmp_path):
    plan = prepare(Options(scale=0.00005, time_scale=0.02, min_phase_s=2, seed=3), tmp_path)
    spike = range(math.ceil(plan.t0), math.floor(plan.t0 + plan.peak.ends_s))
    planned = plan.planned_rps(spike[0] + 0.5)
    # two Locust processes, each sent a third of the plan in every second of the spike
    arrivals_written(tmp_path / "labels-0-1.json", spike, round(planned / 3))
    arrivals_written(tmp_path / "labels-1-2.json", spike, round(planned / 3))

    result = report.build(plan, [], tmp_path)

    reach = result["load"]["peak_reach"]
    assert reach["phase"] == "spike" and reach["seconds"] == len(spike)
    assert reach["planned_rps"] == pytest.approx(planned, rel=0.01)
    assert reach["ratio"] == pytest.approx(2 / 3, abs=0.01)
    assert reach["unsent"] == 14
    row = next(t for t in result["targets"] if t["target"].startswith("arrivals at the peak"))
    assert row["met"] is False
    assert "66.6 %" in report.reach_line(result["load"]) and "planned" in report.summary(result)


@pytest.mark.django_db
def test_with_no_recorded_arrivals_the_peak_is_not_reached_whatever_the_plan_says(tmp_path):
    plan = prepare(Options(scale=0.00005, time_scale=0.02, min_phase_s=2, seed=4), tmp_path)

    result = report.build(plan, [], tmp_path)

    assert result["load"]["peak_reach"]["ratio"] is None
    assert result["load"]["peak_reach"]["planned_rps"] > 0
    assert next(t for t in result["targets"]
                if t["target"].startswith("arrivals at the peak"))["met"] is False
