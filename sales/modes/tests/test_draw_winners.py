"""The draw itself (抽签): a pure, reproducible function of its entries and seed, weighted by
fan level, one win per phone.
"""

from __future__ import annotations

import random

from sales.modes import draws


def _entries(levels: list[int]) -> list[list]:
    """Draw entries [reservation id, user id, fan level, phone], one phone each."""
    return [[10 + i, 1000 + i, level, f"1390000{i:04d}"] for i, level in enumerate(levels)]


MIXED = _entries([i % 5 for i in range(60)])



def test_the_same_entries_and_seed_draw_the_same_winners_and_waitlist():
    first = draws.draw_winners(entries=MIXED, units=10, seed="launch-2019")
    shuffled = random.Random(1).sample(MIXED, len(MIXED))

    again = draws.draw_winners(entries=[list(e) for e in MIXED], units=10, seed="launch-2019")
    in_any_order = draws.draw_winners(entries=shuffled, units=10, seed="launch-2019")

    assert len(first[0]) == 10
    assert again == first
    assert in_any_order == first


def test_a_different_seed_draws_different_winners():
    winners_a, waitlist_a = draws.draw_winners(entries=MIXED, units=10, seed="seed-a")
    winners_b, waitlist_b = draws.draw_winners(entries=MIXED, units=10, seed="seed-b")

    assert set(winners_a) != set(winners_b)
    assert waitlist_a != waitlist_b


def test_the_waitlist_is_every_other_entrant_in_reservation_order():
    entries = _entries([0, 3, 1, 2, 4, 0, 1, 3])
    entries = [[100 - e[0], *e[1:]] for e in entries]  # reservation order opposite to user ids

    winners, waitlist = draws.draw_winners(entries=entries, units=3, seed="order")

    assert len(winners) == len(set(winners)) == 3
    assert set(winners).isdisjoint(waitlist)
    assert set(winners) | set(waitlist) == {e[1] for e in entries}
    by_reservation = [e[1] for e in sorted(entries)]
    assert waitlist == [user for user in by_reservation if user not in winners]


def test_one_phone_wins_at_most_once_even_with_two_entries():
    entries = _entries([0, 1, 2, 3, 4, 3])
    twin_a, twin_b = entries[3], entries[5]
    twin_b[3] = twin_a[3]  # two accounts registered to the same phone

    for seed in range(40):
        winners, waitlist = draws.draw_winners(entries=entries, units=len(entries),
                                               seed=f"twins-{seed}")
        assert len(winners) == len(entries) - 1, seed
        assert len({twin_a[1], twin_b[1]} & set(winners)) == 1, seed
        assert len({twin_a[1], twin_b[1]} & set(waitlist)) == 1, seed


def test_lv3_fans_win_clearly_more_often_than_lv0_newcomers():
    entries = _entries([0] * 20 + [3] * 20)
    lv0 = {e[1] for e in entries if e[2] == 0}
    wins = {0: 0, 3: 0}

    for seed in range(300):  # fixed seeds: the outcome is the same on every run
        winners, _ = draws.draw_winners(entries=entries, units=8, seed=f"fans-{seed}")
        for user in winners:
            wins[0 if user in lv0 else 3] += 1

    assert wins[0] + wins[3] == 300 * 8
    assert wins[3] > 2 * wins[0], wins  # weights 4:1 give about 3:1 here


