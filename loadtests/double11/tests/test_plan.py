"""The model as data: the cast of operators, the baseline B and the planned arrivals."""

import random

from loadtests.double11.plan import (
    BOT_POLL_S,
    OPERATOR_ACCOUNTS,
    Plan,
    _operator_sizes,
    baseline_rps,
    peak_x_b,
    planned_peak_rps,
    timeline,
)


def test_operator_fleets_cover_every_account_and_none_is_too_small():
    low, _ = OPERATOR_ACCOUNTS
    for seed in range(200):
        for total in range(1, 3 * low + 5):
            sizes = _operator_sizes(random.Random(seed), total)
            assert sum(sizes) == total
            assert len(sizes) == 1 or min(sizes) >= low


def test_the_baseline_is_every_shopper_waiting_at_its_personas_pace():
    counts = {"fan": 35, "campus": 0, "fcode": 0, "browser": 0, "scalper": 10, "stealth": 0}
    assert baseline_rps(counts) == round(35 / 3.5 + 10 / BOT_POLL_S, 3)


def test_the_planned_peak_is_the_curves_spike_times_b_and_grows_with_the_scale():
    phase, multiple = peak_x_b()
    assert (phase, multiple) == ("spike", 75.0)
    peaks = [planned_peak_rps(scale=s) for s in (0.0001, 0.0002, 0.0004, 0.001)]
    assert peaks == sorted(peaks)
    assert abs(peaks[1] / peaks[0] - 2) < 0.05 and abs(peaks[2] / peaks[1] - 2) < 0.05


def test_the_plans_arrivals_follow_the_curve_for_the_shoppers_present():
    plan = Plan(sale_id=1, t0=1_000_000.0, ends_at=1_000_300.0, time_scale=0.05,
                min_phase_s=5.0, payment_window_s=90.0, per_user_limit=2, password="x",
                accounts=[], out_dir="/tmp", baseline_rps=40.0,
                phases=timeline(time_scale=0.05, min_phase_s=5.0))
    assert plan.peak.name == "spike"
    assert plan.planned_rps(plan.t0 + 1) == 75 * 40.0
    assert plan.planned_rps(plan.at("wait") + 1) == 40.0
    assert plan.planned_rps(plan.starts) == 0.0     # nobody has arrived yet
    assert plan.planned_rps(plan.ends + 1) == 0.0


def test_scale_auto_picks_the_largest_scale_whose_peak_fits_below_the_measured_capacity():
    from loadtests.double11.autoscale import AUTO_MARGIN, AUTO_SCALES, scale_pick

    for capacity in (1_000.0, 1_500.0, 4_000.0, 20_000.0, 1e6):
        scale = scale_pick(capacity)
        assert planned_peak_rps(scale=scale) <= AUTO_MARGIN * capacity
        larger = [s for s in AUTO_SCALES if s > scale]
        assert not larger or planned_peak_rps(scale=larger[0]) > AUTO_MARGIN * capacity \
            or scale == max(AUTO_SCALES)
    assert scale_pick(10.0) == min(AUTO_SCALES)      # nothing fits: the smallest offered
    assert scale_pick(1_500.0) < scale_pick(4_000.0)


def test_the_probe_counts_its_slowest_whole_second_after_the_ramp():
    from loadtests.double11.autoscale import probe_rate

    sent = {100: 900, 101: 5000, 102: 6300, 103: 4600, 104: 3100, 105: 5900, 106: 1800}
    assert probe_rate(sent) == 3100.0
    assert probe_rate({100: 10, 101: 20}) == 0.0


def test_a_farms_sims_are_a_run_and_genuine_shoppers_keep_their_spread_numbers():
    """The simple fleet buys its SIMs as a run of consecutive numbers (the phone-block
    feature's easy case); genuine personas keep the seeded, spread numbers (none set here),
    so no block of 100 numbers ties a fan to a farm."""
    from loadtests.double11.plan import cast

    made = cast(usernames=[f"fan{n:06d}" for n in range(1, 2001)], fcodes={},
                shoppers=2000, stock=100, fcode_quota=10, seed=3)
    farms: dict[str, list[int]] = {}
    for account in made.accounts:
        if account.persona == "scalper":
            farms.setdefault(account.operator, []).append(int(account.phone))
        elif account.persona in ("fan", "campus", "browser"):
            assert account.phone == "", account
    assert farms
    for phones in farms.values():
        assert sorted(phones) == list(range(min(phones), min(phones) + len(phones)))
    every = [p for phones in farms.values() for p in phones]
    assert len(every) == len(set(every))  # no two operators share a number
