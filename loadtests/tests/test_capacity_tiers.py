"""Review 15: each tier of the capacity model is its own rate times its own cost.

test_capacity.py's properties (monotone, at least one, linear) hold for a model that wires a
tier to another tier's rate or cost, halves a rate, or answers 1 for a tier; these do not.
Celery has two kinds of work (the pipeline's tickets, the risk feed's attempts): its count is
the sum of both terms."""

import math

from hypothesis import given
from hypothesis import strategies as st

from loadtests.capacity import HEADROOM, Costs, Load, describe, need

rates = st.floats(min_value=0.0, max_value=1e8, allow_nan=False)
costs_st = st.builds(Costs, *[st.floats(min_value=1e-7, max_value=1e-2)] * 5)
loads = st.builds(Load, rates, rates, rates, rates)
WIRING = {"web_cores": [("peak_rps", "web_per_request")],
          "redis_shards": [("peak_attempts_rps", "redis_per_attempt")],
          "celery_workers": [("tickets_per_s", "celery_per_ticket"),
                             ("rush_attempts_per_s", "celery_per_attempt")],
          "locust_workers": [("peak_rps", "locust_per_request")]}


@given(costs_st, loads)
def test_each_tier_is_its_rate_times_its_cost_over_the_headroom(costs, load):
    counts = need(costs, load)
    for tier, terms in WIRING.items():
        exact = sum(getattr(load, rate) * getattr(costs, cost) for rate, cost in terms) \
            / HEADROOM
        assert exact - 1e-6 <= counts[tier] <= max(1, math.ceil(exact)), tier


def test_each_line_states_the_count_its_own_inputs_give():
    costs, load = Costs(5e-4, 1e-4, 2e-3, 3e-5, 2e-4), Load(10_000, 20_000, 1_000, 30_000)
    assert describe(costs, load) == [
        "web cores: 8 = 10,000 requests/s x 500 us per request / 70% of a core",
        "Redis shards: 3 = 20,000 attempts/s x 100 us per attempt / 70% of a core",
        "Celery workers: 5 = 1,000 tickets/s x 2,000 us per ticket + 30,000 attempts/s x "
        "30 us per attempt / 70% of a core",
        "Locust workers: 3 = 10,000 requests/s x 200 us per request / 70% of a core"]
