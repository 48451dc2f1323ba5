"""The shard bench (loadtests.shard_bench) and the Redis Cluster it plans
(loadtests.capacity.shard_plan): the ratios are each round's own gate over bare, CPU per
admission is CPU over admissions, the plan's masters, instances and hosts follow from the
measured cost, one sale is capped at SHARDS_MAX shards, and a tiny run on a real cluster
admits every attempt of both rows."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtests import capacity, shard_bench, shard_measure
from loadtests.shard_bench import Measured, ShardRow
from sales.gate.keys import SHARDS_MAX


def run(admissions: int, seconds: float, redis_s: float = 0.1, client_s: float = 0.1,
        refused: int = 0) -> Measured:
    return Measured(admissions=admissions, refused=refused, seconds=seconds,
                    redis_cpu_s=redis_s, client_cpu_s=client_s)


def test_cpu_per_admission_is_each_groups_seconds_over_the_admissions():
    measured = run(4_000, 0.5, redis_s=0.2, client_s=0.3)
    assert measured.rate == 8_000
    assert (measured.redis_us, measured.client_us, measured.cpu_us) == \
        pytest.approx((50.0, 75.0, 125.0))
    assert run(0, 0.0).rate == 0.0 and run(0, 1.0).cpu_us == 0.0  # nothing ran: no figure


def test_ratios_are_the_median_of_each_rounds_own_not_a_ratio_of_medians():
    # round by round the gate is 0.5, 0.6 and 0.9 of the bare: their median, and the range
    row = ShardRow(shards=2, gate=[run(5_000, 1.0), run(6_000, 1.0), run(9_000, 1.0)],
                   bare=[run(10_000, 1.0), run(10_000, 1.0), run(10_000, 1.0)])
    assert row.ratio("rate") == pytest.approx((0.6, 0.5, 0.9))
    # here the median of the rounds' own ratios (0.9) and the ratio of the medians (0.2) part
    skewed = ShardRow(shards=1, gate=[run(1_000, 1.0), run(2_000, 1.0), run(9_000, 1.0)],
                      bare=[run(10_000, 1.0), run(2_000, 1.0), run(10_000, 1.0)])
    assert skewed.ratio("rate")[0] == pytest.approx(0.9)   # rounds: 0.1, 1.0, 0.9
    assert skewed.median("gate", "rate") / skewed.median("bare", "rate") == 0.2
    assert ShardRow.of(row.as_dict()) == row                 # the JSON the bench passes


def test_the_plans_cost_is_the_largest_shard_counts_median_redis_cost():
    rows = [ShardRow(shards=n, gate=[run(1_000, 1.0, redis_s=s) for s in cost],
                     bare=[run(1_000, 1.0)] * 3)
            for n, cost in ((1, (0.03, 0.05, 0.04)), (3, (0.06, 0.02, 0.07)))]
    assert shard_bench.redis_per_admission(rows) == pytest.approx(60e-6)  # 3 shards' 60 us


@given(st.floats(min_value=1.0, max_value=1e7), st.floats(min_value=1e-6, max_value=1e-3),
       st.integers(min_value=2, max_value=64), st.integers(min_value=0, max_value=2))
def test_the_cluster_plan_is_masters_from_the_cost_and_hosts_from_the_instances(
        rate, cost, host_cores, replicas):
    plan = capacity.shard_plan(attempts_rps=rate, redis_per_admission=cost,
                               host_cores=host_cores, replicas=replicas)
    assert plan.masters == max(1, math.ceil(rate * cost / capacity.HEADROOM - 1e-9))
    assert plan.masters * plan.per_shard_rps >= rate * (1 - 1e-9)  # enough for the peak
    assert plan.instances == plan.masters * (1 + replicas)
    assert plan.hosts * host_cores >= plan.instances                # every process a core
    assert plan.hosts >= 1 + replicas          # a master and its replicas on other hosts
    assert plan.one_sale_fits == (plan.masters <= SHARDS_MAX)
    assert plan.sale_ceiling_rps == pytest.approx(SHARDS_MAX * capacity.HEADROOM / cost)


def test_a_peak_beyond_one_sales_shards_is_said_not_hidden():
    small = capacity.shard_plan(attempts_rps=10_000, redis_per_admission=50e-6)
    assert small.masters == 1 and small.hosts == 2
    assert "one sale split over 1 shards takes it" in capacity.shard_lines(small)[-1]
    launch = capacity.shard_plan(attempts_rps=314_000, redis_per_admission=70e-6)
    assert launch.masters == 32 and launch.instances == 64 and launch.hosts == 8
    said = capacity.shard_lines(launch)
    assert said[0].startswith("Redis Cluster masters: 32 = 314,000 admissions/s x 70 us")
    assert said[-1].startswith(f"one sale cannot take it: its {SHARDS_MAX} shards at most "
                               "take 160,000 admissions/s, 51% of the peak")


def test_a_run_too_short_for_procs_ticks_plans_nothing_rather_than_divide_by_zero():
    rows = [ShardRow(shards=1, gate=[run(90, 0.01, redis_s=0.0)], bare=[run(90, 0.01)])]
    assert shard_bench.redis_per_admission(rows) == 0.0
    [said] = shard_bench.capacity_lines(rows)
    assert said.startswith("No Redis Cluster planned") and "not measurable" in said


def test_the_table_says_two_cores_cannot_show_a_speed_up_and_warns_of_refusals():
    rows = [ShardRow(shards=n, gate=[run(900, 1.0, refused=100 if n == 3 else 0)],
                     bare=[run(1_000, 0.5)]) for n in (1, 2, 3)]
    text = "\n".join(shard_bench.describe(rows, cores=2))
    assert "| 3 | gate: the purchase service | 900 |" in text
    assert "| 2 | 0.45 (0.45 to 0.45) |" in text
    assert "Measured on 2 cores" in text and "cannot show a speed-up" in text
    assert "WARNING: some attempts were refused" in text


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_tiny_run_on_a_real_cluster_admits_every_attempt_of_both_rows(gate_cluster):
    rows = shard_measure.measure(shards=(1, 3), admissions=90, clients=2, rounds=1)
    assert [row.shards for row in rows] == [1, 3]
    for row in rows:
        for measured in (*row.gate, *row.bare):
            assert (measured.admissions, measured.refused) == (90, 0)
            assert measured.seconds > 0 and measured.client_cpu_s > 0
    planned = shard_bench.capacity_lines(rows)
    if shard_bench.redis_per_admission(rows):
        assert planned[-1].startswith("- one sale")
    else:  # 90 admissions may cost Redis less than one of /proc's ticks: said, not divided
        assert "not measurable" in planned[0]
