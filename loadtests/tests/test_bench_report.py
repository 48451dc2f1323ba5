"""The benchmark's arithmetic: paired ratios and the verdicts written to BENCHMARKS.md."""

from __future__ import annotations

import pytest

from loadtests.bench import Figures, report


def _result(rps: float) -> dict:
    return {"rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "statuses": {"200": int(rps)}}


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
