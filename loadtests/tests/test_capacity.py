"""The capacity model: monotone in the load, never below one of anything, linear in scale."""

from hypothesis import given
from hypothesis import strategies as st

from loadtests.capacity import TIERS, Costs, Load, cores, describe, need, shown, significant

rates = st.floats(min_value=0.0, max_value=1e8, allow_nan=False)
costs_st = st.builds(Costs, *[st.floats(min_value=1e-7, max_value=1e-2)] * 5)
loads = st.builds(Load, rates, rates, rates, rates)


@given(costs_st, loads, st.floats(min_value=1.0, max_value=100.0))
def test_more_load_never_needs_fewer_of_anything(costs, load, factor):
    before, after = need(costs, load), need(costs, load.times(factor))
    assert all(after[tier] >= before[tier] for tier in TIERS)


@given(costs_st, loads)
def test_every_tier_needs_at_least_one_process(costs, load):
    assert all(count >= 1 for count in need(costs, load).values())
    assert all(count == 1 for count in need(costs, load.times(0.0)).values())


@given(costs_st, loads, st.integers(min_value=2, max_value=1000))
def test_n_times_the_load_needs_n_times_the_cores_give_or_take_the_rounding(costs, load, n):
    one, many = need(costs, load), need(costs, load.times(n))
    for tier in TIERS:
        exact = many[tier]
        assert n * one[tier] - n <= exact <= n * one[tier], tier


def test_a_core_is_planned_at_the_headroom_and_the_inputs_are_stated():
    assert cores(1000.0, 0.0007) == 1 and cores(1001.0, 0.0007) == 2   # 0.7 s of 0.7
    lines = describe(Costs(0.0005, 0.0001, 0.002, 0.0001, 0.0002),
                     Load(10_000, 2_000, 100, 1_000))
    assert lines[0] == "web cores: 8 = 10,000 requests/s x 500 us per request / 70% of a core"
    assert lines[1].startswith("Redis shards: 1 = 2,000 attempts/s x 100 us per attempt")
    assert lines[2] == ("Celery workers: 1 = 100 tickets/s x 2,000 us per ticket + 1,000 "
                        "attempts/s x 100 us per attempt / 70% of a core")


def test_a_replays_celery_line_charges_everything_to_the_attempts():
    lines = describe(Costs(0.0005, 0.0001, 0.0, 0.0002, 0.0002), Load(10_000, 2_000, 100, 7_000))
    assert lines[2] == "Celery workers: 2 = 7,000 attempts/s x 200 us per attempt / 70% of a core"


def test_counts_and_costs_are_written_to_two_significant_figures_and_kept_whole():
    assert [significant(v) for v in (12_882, 122, 35, 8, 286.4, 0.25, 0)] == \
        ["13,000", "120", "35", "8", "290", "0.25", "0"]
    costs = Costs(2.864e-4, 9.04e-5, 0.0, 1.6e-4, 2.14e-4)
    load = Load(31_500_000, 940_000, 2_222, 137_000)
    counts = need(costs, load)
    assert counts["web_cores"] == 12_888     # whole processes in `need` (and the JSON) ...
    lines = describe(costs, load)            # ... two figures where a reader sees them
    assert lines[0] == ("web cores: 13,000 = 31,500,000 requests/s x 290 us per request "
                        "/ 70% of a core")
    assert lines[1].startswith("Redis shards: 120 = 940,000 attempts/s x 90 us per attempt")
    assert shown(counts)["web_cores"] == 13_000
