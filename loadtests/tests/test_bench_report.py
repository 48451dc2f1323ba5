"""The benchmark's arithmetic: paired ratios and the verdicts written to BENCHMARKS.md."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from loadtests import cputime, servers
from loadtests.bench_report import Figures, report

INFO = {"cores": 2, "cpu": "x", "python": "3.11", "postgresql": "15", "redis": "6.2",
        "date": "today"}
SHAPE = servers.Shape(server="granian", workers=3, threads=2)


def _result(rps: float, cpu_us: dict | None = None) -> dict:
    return {"rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "statuses": {"200": int(rps)},
            "cpu_us": cpu_us or {}}


def _figures(**rounds: list[float]) -> Figures:
    """Rounds per key; the purchase on Granian is `b`, on another server `b_<kind>`."""
    figures = Figures(serving="granian")
    for key, values in rounds.items():
        name = {"b": "b:granian"}.get(key, key.replace("b_", "b:"))
        for rps in values:
            figures.add(name, _result(rps))
    figures.pipeline = {"orders_per_s": 6000.0, "settled": 6000, "seconds": 1.0}
    figures.risk = {"attempts_per_core_s": 10_500.0}
    return figures


def _text(figures: Figures) -> str:
    return report(figures, INFO, shape=SHAPE, concurrency=32, duration=5)


def test_the_ratio_is_taken_round_by_round_not_from_two_medians():
    # the machine slows down in round 2: each round's pair agrees, the medians would not
    figures = _figures(L=[2000, 1000, 2100], b=[1800, 900, 1000])
    median, low, high = figures.paired_ratio("b:granian", "L")
    assert (median, low, high) == (pytest.approx(0.9), pytest.approx(1000 / 2100),
                                   pytest.approx(0.9))


def test_rounds_that_do_not_pair_up_are_an_error():
    with pytest.raises(ValueError):
        _figures(L=[2000, 1000], b=[1800]).paired_ratio("b:granian", "L")


def test_the_report_states_each_target_against_what_was_measured():
    text = _text(_figures(a0=[500, 600], b=[1800, 1760], L=[2400, 2400], e=[1500, 1500],
                          bare=[2000, 3000], c=[100]))
    assert "| (b) >= 0.7 x (L) | 0.74 x (rounds: 0.73 to 0.75) | met |  |" in text
    assert "| (b) >= 3 x (a0) | 3.27 x (rounds: 2.93 to 3.60) | met |  |" in text
    assert "| (e) >= 0.7 x bare GET | 0.62 x (rounds: 0.50 to 0.75) | MISSED |  |" in text
    assert "| (d) >= 10,000 orders/s | 6,000 | MISSED |  |" in text
    assert "| risk scoring >= 10,000 attempts/s per core | 10,500 | met |  |" in text
    assert "| (b) / (c), informative | 17.8 x | | |" in text
    assert "| this project, (b) on Granian WSGI | 1,780 | 2 cores (x)" in text
    assert "| CCDD2022/seckill-system (Go) | 4,484 | a 4-core VM |" in text


def test_a_target_whose_rows_were_not_measured_is_left_out():
    text = _text(_figures(b=[1800], L=[2000]))
    assert "(b) >= 0.7 x (L)" in text and "(b) >= 3 x (a0)" not in text


def test_each_server_is_compared_with_gunicorn_gthread_in_the_same_rounds():
    text = _text(_figures(b_gthread=[1000, 500], b=[1500, 1000], b_uvicorn=[500, 500]))
    assert "| gunicorn gthread | 750 | 1.00 (1.00 to 1.00) |" in text
    assert "| Granian WSGI (serving) | 1,250 | 1.75 (1.50 to 2.00) |" in text
    assert "| uvicorn ASGI | 500 | 0.75 (0.50 to 1.00) |" in text
    assert "gunicorn gevent" not in text  # not compared in this run


def test_a_paired_target_also_says_what_the_cpu_per_request_makes_of_it():
    figures = Figures(serving="granian")
    for key, rps, web in (("b:granian", 1000, 1500.0), ("L", 2000, 450.0)):
        figures.rounds[key] = [_result(rps, {"web": web, "redis": 100.0, "postgres": 0.0,
                                             "load generator": 50.0})] * 2
    assert "| (b) >= 0.7 x (L) | 0.50 x (rounds: 0.50 to 0.50) | MISSED | 0.36 x |" in (
        _text(figures))


def test_cpu_per_request_is_tabled_by_group_when_it_was_read():
    figures = _figures(a0=[2000, 2000], b=[1800, 1800])
    assert "CPU per answered request" not in _text(figures)
    cpu = {"web": 700.0, "redis": 0.0, "postgres": 0.0, "load generator": 150.0}
    figures.rounds["a0"] = [_result(2000, cpu), _result(2000, {**cpu, "web": 900.0})]
    text = _text(figures)
    assert "| (a0) GET /auth/whoami, DRF (reference) | 800 | 0 | 0 | 150 | 950 |" in text


def test_cpu_snapshots_turn_into_microseconds_per_request_process_by_process():
    before = {"web": {10: 1.0, 11: 2.0}, "redis": {5: 1.0}, "postgres": {7: 3.0, 8: 1.0},
              "load generator": {0: 1.0}}
    # 11 exited and 12 started: the one gone takes nothing away, the new one counts from 0
    after = {"web": {10: 1.4, 12: 0.1}, "redis": {5: 1.1}, "postgres": {7: 3.0},
             "load generator": {0: 1.2}}
    per = cputime.per_request(before, after, 1000)
    assert per == {"web": 500.0, "redis": 100.0, "postgres": 0.0, "load generator": 200.0}
    assert cputime.per_request(None, after, 1000) == {}


def test_a_snapshot_reads_this_process_and_its_children_as_the_web_group():
    """On Linux the web group's CPU grows with work done; without /proc there is no figure."""
    before = cputime.snapshot(web_pid=os.getpid(), redis_pid=None)
    sum(i * i for i in range(2_000_000))  # some CPU to see
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        after = cputime.snapshot(web_pid=os.getpid(), redis_pid=None)
    finally:
        child.kill()
        child.wait()
    if not cputime.PROC.is_dir():
        assert before is None and after is None
        return
    assert cputime.used(before, after, "web") > 0 and child.pid in after["web"]
    assert after["redis"] == {}


def test_the_bench_states_the_capacity_of_a_launch_from_its_own_cpu_per_request():
    figures = _figures(b=[900.0], g=[1300.0])
    for key, cpu in (("b:granian", {"web": 884, "redis": 161, "postgres": 0,
                                    "load generator": 85}),
                     ("g", {"web": 554, "redis": 2, "postgres": 6, "load generator": 87})):
        figures.rounds[key][0]["cpu_us"] = cpu

    text = _text(figures)

    assert "Capacity of a scale-1 launch from this run's CPU" in text
    assert "- web cores: " in text and "x 550 us per request / 70% of a core" in text
    assert "x 160 us per attempt" in text and "x 170 us per ticket" in text
    # Celery: the pipeline's tickets and the risk feed's attempts, at the bench's own figures
    # (1 / 6,000 orders/s, 1 / 10,500 attempts per core second)
    celery = next(line for line in text.splitlines() if line.startswith("- Celery workers"))
    assert "1,330 tickets/s x 170 us per ticket + 15,700 attempts/s x 95 us per attempt" \
        in celery, celery
    assert "risk scoring's 10,500 attempts per core second" in text


def test_without_the_risk_row_the_bench_says_celery_counts_the_pipeline_alone():
    figures = _figures(b=[900.0], g=[1300.0])
    figures.risk = {}
    for key, cpu in (("b:granian", {"web": 884, "redis": 161, "postgres": 0,
                                    "load generator": 85}),
                     ("g", {"web": 554, "redis": 2, "postgres": 6, "load generator": 87})):
        figures.rounds[key][0]["cpu_us"] = cpu

    text = _text(figures)

    assert "NOT the risk feed's attempts" in text and "an undercount" in text


def test_a_purchase_row_of_refusals_is_called_out():
    """A (b) whose answers were mostly 503 busy (the queue bound reached) or a (L) of sold-out
    answers would flatter the ratios: the report says so. Admissions alone say nothing."""
    figures = Figures(serving="granian")
    figures.add("b:granian", {**_result(7000), "statuses": {"202": 6800, "503": 3200}})
    figures.add("b:gthread", {**_result(3000), "statuses": {"202": 3000}})
    figures.add("L", {**_result(9000), "statuses": {"202": 9000, "409": 50}})
    figures.add("bare", {**_result(9000), "statuses": {"200": 9000}})
    warnings = [line for line in _text(figures).splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1
    assert warnings[0].startswith("WARNING: (b:granian) 3,200 of 10,000 answers (32%)")
