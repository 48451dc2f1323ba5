"""The benchmark's arithmetic: paired ratios and the verdicts written to BENCHMARKS.md."""

from __future__ import annotations

import os

import pytest

from loadtests import cputime
from loadtests.bench import Figures, report


def _result(rps: float, cpu_us: dict | None = None) -> dict:
    return {"rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "statuses": {"200": int(rps)},
            "cpu_us": cpu_us or {}}


def _figures(a: list[float], b: list[float]) -> Figures:
    figures = Figures()
    for rps in a:
        figures.add("a", _result(rps))
    for rps in b:
        figures.add("b", _result(rps))
    for key in "cefg":
        figures.add(key, _result(100.0))
    figures.pipeline = {"orders_per_s": 6000.0, "settled": 6000, "seconds": 1.0}
    return figures


def test_the_ratio_is_taken_round_by_round_not_from_two_medians():
    # the machine slows down in round 2: each round's pair agrees, the medians would not
    figures = _figures(a=[2000, 1000, 2100], b=[1800, 900, 1000])
    median, low, high = figures.paired_ratio("b", "a")
    assert (median, low, high) == (pytest.approx(0.9), pytest.approx(1000 / 2100),
                                   pytest.approx(0.9))


def test_rounds_that_do_not_pair_up_are_an_error():
    with pytest.raises(ValueError):
        _figures(a=[2000, 1000], b=[1800]).paired_ratio("b", "a")


def test_the_report_states_each_target_against_what_was_measured():
    info = {"cores": 2, "cpu": "x", "python": "3.11", "postgresql": "15", "redis": "6.2",
            "date": "today"}
    text = report(_figures(a=[2000, 2000], b=[1800, 1760]), info, web_workers=3,
                  web_threads=2, concurrency=32, duration=5)
    assert "| (b) >= 0.85 x (a) | 0.89 x (paired rounds: 0.88 to 0.90) | met |" in text
    assert "| (b) >= 10 x (c) | 17.8 x | met |" in text
    assert "| (d) >= 5,000 orders/s | 6,000 | met |" in text
    text = report(_figures(a=[2000, 2000], b=[1000, 1200]), info, web_workers=3,
                  web_threads=2, concurrency=32, duration=5)
    assert "| (b) >= 0.85 x (a) | 0.55 x (paired rounds: 0.50 to 0.60) | MISSED |" in text


def test_cpu_per_request_is_tabled_by_group_when_it_was_read():
    info = {"cores": 2, "cpu": "x", "python": "3.11", "postgresql": "15", "redis": "6.2",
            "date": "today"}
    figures = _figures(a=[2000, 2000], b=[1800, 1800])
    assert "CPU per answered request" not in report(figures, info, web_workers=3,
                                                    web_threads=2, concurrency=32, duration=5)
    cpu = {"web": 700.0, "redis": 0.0, "postgres": 0.0, "load generator": 150.0}
    figures.rounds["a"] = [_result(2000, cpu), _result(2000, {**cpu, "web": 900.0})]
    text = report(figures, info, web_workers=3, web_threads=2, concurrency=32, duration=5)
    assert "| (a) GET /auth/whoami (floor) | 800 | 0 | 0 | 150 | 950 |" in text


def test_cpu_snapshots_turn_into_microseconds_per_request():
    before = dict.fromkeys(cputime.GROUPS, 1.0)
    after = {**before, "web": 1.5, "redis": 1.1}
    assert cputime.per_request(before, after, 1000)["web"] == 500.0
    assert cputime.per_request(before, after, 1000)["redis"] == 100.0
    assert cputime.per_request(None, after, 1000) == {}


def test_a_snapshot_reads_this_process_as_the_web_group():
    """On Linux the web group's CPU grows with work done; without /proc there is no figure."""
    before = cputime.snapshot(web_pid=os.getpid(), redis_pid=None)
    sum(i * i for i in range(2_000_000))  # some CPU to see
    after = cputime.snapshot(web_pid=os.getpid(), redis_pid=None)
    if not cputime.PROC.is_dir():
        assert before is None and after is None
        return
    assert after["web"] > before["web"] and after["redis"] == 0.0
