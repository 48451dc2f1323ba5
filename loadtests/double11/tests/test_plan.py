"""The cast of operators: every stealth account belongs to one fleet of a plausible size."""

import random

from loadtests.double11.plan import OPERATOR_ACCOUNTS, _operator_sizes


def test_operator_fleets_cover_every_account_and_none_is_too_small():
    low, _ = OPERATOR_ACCOUNTS
    for seed in range(200):
        for total in range(1, 3 * low + 5):
            sizes = _operator_sizes(random.Random(seed), total)
            assert sum(sizes) == total
            assert len(sizes) == 1 or min(sizes) >= low
