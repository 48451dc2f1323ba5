"""The time-axis figure (figures.py), drawn by matplotlib and measured with its renderer: ticks
people read, one x axis for every panel, phase and event labels that never overlap, the
achieved / planned ratio drawn and stated, the faults and the invariant checks on the axis."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.text import Text

from loadtests.double11 import figures, labels
from loadtests.double11.tests.records import a_plan, a_record


def drawn(record: dict, plan) -> tuple:
    fig = figures.timeline(record, plan)
    fig.canvas.draw()
    return fig, fig.canvas.get_renderer()


def boxes(fig, renderer, gid: str) -> list:
    return [t.get_window_extent(renderer) for t in fig.findobj(Text) if t.get_gid() == gid]


def overlapping(found: list) -> list[tuple]:
    return [(a, b) for a, b in itertools.combinations(found, 2)
            if a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1]


def busy_series(plan, peak: float) -> dict:
    """A second-by-second run whose arrivals reach `peak` requests/s at the spike."""
    seconds = range(int(plan.phases[0].starts_s), int(plan.phases[-1].ends_s))
    planned = [[t, peak if 0 <= t < 5 else peak / 75] for t in seconds]
    answered = [[t, n * 0.9] for t, n in planned]
    return {"gate": [{"t": t, "stock_left": max(0, 8_000 - 400 * t), "fcode_left": 800,
                      "queued": 12_000 if 0 <= t < 5 else 0} for t in seconds],
            "locust": [{"t": t, "users": 110_819, "rps": peak / 10, "p50": 12.0, "p95": 950.0,
                        "p99": 7_190.0} for t in seconds],
            "answered_per_s": answered, "planned_per_s": planned, "tried_per_s": planned,
            "refresh_per_s": answered, "admissions_per_s": [[t, 4_000] for t in range(5)],
            "orders_per_s": [[t, 3_900] for t in range(6)], "payments_per_s": []}


@pytest.mark.parametrize("value,shown", [(7_190, "7,190"), (72_000, "72k"), (12_500, "12.5k"),
                                         (1_200_000, "1.2M"), (31_000_000, "31M"), (12.5, "12.5"),
                                         (0.25, "0.25"), (0, "0"), (-60, "-60")])
def test_a_tick_reads_as_people_read_numbers(value, shown):
    assert figures.tick_number(value) == shown


@pytest.mark.parametrize("peak", [7_190.0, 72_000.0, 31_000_000.0])
def test_values_in_the_thousands_and_millions_give_ticks_without_powers_of_ten(peak):
    plan = a_plan()
    fig, _ = drawn(a_record(series=busy_series(plan, peak)), plan)

    panels = [ax for ax in fig.axes if ax.get_ylabel()]
    labels = [t.get_text() for ax in panels for t in ax.get_yticklabels() + ax.get_xticklabels()]
    assert labels and not [text for text in labels if "e+" in text or "e-" in text]
    assert all(ax.yaxis.get_offset_text().get_text() == "" for ax in panels)
    arrivals = next(ax for ax in panels if ax.get_ylabel() == "requests/s")
    shown = [t.get_text() for t in arrivals.get_yticklabels()]
    assert any(("," in text or text[-1] in "kM") for text in shown), shown
    assert all(ax.get_ylabel() for ax in panels)        # every panel names its unit


def test_a_panel_of_counts_that_stayed_at_zero_has_whole_ticks():
    plan = a_plan()
    series = busy_series(plan, 2_591.0)
    series["gate"] = [{**g, "queued": 0} for g in series["gate"]]
    fig, _ = drawn(a_record(series=series), plan)

    queue = next(ax for ax in fig.axes if ax.get_ylabel() == "tickets")
    assert [t.get_text() for t in queue.get_yticklabels()] == ["0", "1"]


def test_every_panel_is_drawn_on_one_time_axis_spanning_the_plan():
    plan = a_plan()
    fig, _ = drawn(a_record(series=busy_series(plan, 2_591.0)), plan)

    limits = {ax.get_xlim() for ax in fig.axes}
    assert len(limits) == 1
    low, high = limits.pop()
    assert low <= plan.phases[0].starts_s and high >= plan.phases[-1].ends_s
    first = fig.axes[0]
    assert all(first.get_shared_x_axes().joined(first, ax) for ax in fig.axes)
    assert len([ax for ax in fig.axes if ax.get_ylabel()]) == 7


@pytest.mark.parametrize("time_scale,min_phase_s", [
    (0.05, 5.0), (0.02, 2.0), (0.01, 3.0), (0.001, 0.5), (0.0001, 0.0), (1.0, 5.0),
    (0.05, 60.0), (0.2, 0.0)])
def test_the_phase_labels_of_any_plan_never_overlap(time_scale, min_phase_s):
    plan = a_plan(time_scale=time_scale, min_phase_s=min_phase_s)
    fig, renderer = drawn(a_record(), plan)

    found = boxes(fig, renderer, "phase-label")
    assert len(found) == len(plan.phases)
    assert overlapping(found) == []
    page = fig.bbox
    assert all(page.x0 <= b.x0 and b.x1 <= page.x1 and page.y0 <= b.y0 and b.y1 <= page.y1
               for b in found)


@given(st.lists(st.tuples(st.floats(0, 1000), st.floats(1, 200)), max_size=30))
def test_no_lane_holds_two_boxes_closer_than_the_gap(spans):
    boxes = [(left, left + width) for left, width in spans]
    placed = labels.lanes(boxes, gap=6.0)

    for lane in set(placed):
        mine = [b for b, n in zip(boxes, placed, strict=True) if n == lane]
        assert all(a[1] + 6.0 <= b[0] or b[1] + 6.0 <= a[0]
                   for a, b in itertools.combinations(mine, 2))
    assert sorted(set(placed)) == list(range(len(set(placed))))   # no lane left empty


def faults_at(moments: list[float]) -> dict:
    kinds = ["restart from SAVE", "worker SIGKILL", "FLUSHALL", "CLIENT PAUSE 2000",
             "pg_terminate_backend"]
    return {"faults": [{"kind": "k", "label": kinds[n % len(kinds)], "at_s": at, "done_s": at,
                        "ok": n != 1, "since_s": at - 1.0 if n == 0 else None,
                        "until_s": at + 2.0 if n == 3 else None, "details": {}}
                       for n, at in enumerate(moments)],
            "errors_per_s": {"503 unavailable": [[1, 0], [2, 40], [3, 0]]}}


def test_faults_and_invariant_checks_are_marked_on_the_time_axis_without_overlapping():
    plan = a_plan()
    moments = [1.0, 1.2, 1.3, 1.5, 2.0]
    record = a_record(chaos=faults_at(moments), broken=("tickets_end_once",),
                      checked_at_s=190.0, sell_out_s=1.4, settled_by_s=2.1)
    fig, renderer = drawn(record, plan)

    labels = [t.get_text() for t in fig.findobj(Text) if t.get_gid() == "event-label"]
    assert labels == ["restart from SAVE", "worker SIGKILL (failed)", "FLUSHALL",
                      "open stock seen sold out", "CLIENT PAUSE 2000", "pg_terminate_backend",
                      "last rush ticket settled", "invariants BROKEN: tickets_end_once"]
    assert overlapping(boxes(fig, renderer, "event-label")) == []
    panels = [ax for ax in fig.axes if ax.get_ylabel()]
    assert len(panels) == 8         # the 503s panel of a chaos run besides
    for ax in panels:
        at = sorted(line.get_xdata()[0] for line in ax.get_lines()
                    if line.get_gid() == "fault-line")
        assert at == moments
        checks = [line for line in ax.get_lines() if line.get_gid() == "check-line"]
        assert [c.get_xdata()[0] for c in checks] == [190.0]
        assert checks[0].get_color() == figures.FAULT       # broken: red
    assert len([p for p in fig.findobj() if p.get_gid() == "fault-span"]) == 2 * (
        len(panels) + 1)


def test_the_achieved_over_planned_ratio_is_drawn_each_second_and_stated_for_the_peak():
    plan = a_plan()
    series = busy_series(plan, 2_591.0)
    record = a_record(series=series, ratio=0.9, achieved_rps=2_331.9, planned_rps=2_591.0)
    fig, _ = drawn(record, plan)

    ratio = next(ax for ax in fig.axes if ax.get_ylabel() == "answered / planned")
    line = next(line for line in ratio.get_lines() if line.get_label() == "answered / planned")
    assert list(line.get_ydata()) == pytest.approx([0.9] * len(series["planned_per_s"]))
    assert "at the peak (spike, shaded): 90.0 % of the plan (2,332 of 2,591 requests/s)" in \
        ratio.get_title(loc="left")
    assert [t.get_text() for t in ratio.get_yticklabels()][-1].endswith("%")
    goal = [line for line in ratio.get_lines() if line.get_label() == "goal 80%"]
    assert goal and list(goal[0].get_ydata()) == [0.8, 0.8]


def test_the_figure_is_written_as_a_png_beside_the_report(tmp_path):
    plan = a_plan()
    name = figures.write(a_record(), plan, tmp_path)

    assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
