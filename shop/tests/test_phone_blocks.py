"""A phone's carrier block: the same run of 100 numbers is one key however each number is
written (+86, 0086, spaces, dashes, full-width digits); a number in another run, or a number
too short to have a run, is not in it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shop.phone_blocks import phone_block, phone_national
from shop.services import phone_normalize
from shop.tests.fixtures import scattered_phone

heads = st.from_regex(r"1[3-9][0-9]{7}", fullmatch=True)  # a mobile's first nine digits
tails = st.integers(min_value=0, max_value=99)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
prefixes = st.sampled_from(["", "+86", "+86 ", "0086", "86", "+0086"])


def _written(number: str, prefix: str, style: int) -> str:
    """One number as a shopper types it."""
    spaced = [f"{number[:3]} {number[3:7]} {number[7:]}",
              f"{number[:3]}-{number[3:7]}-{number[7:]}", number,
              number.translate(FULL_WIDTH)]
    return prefix + spaced[style]


@settings(deadline=None)
@given(head=heads, one=tails, other=tails, prefix_a=prefixes, prefix_b=prefixes,
       style_a=st.integers(0, 3), style_b=st.integers(0, 3))
def test_numbers_differing_only_in_their_last_two_digits_share_a_block(
        head, one, other, prefix_a, prefix_b, style_a, style_b):
    a, b = f"{head}{one:02d}", f"{head}{other:02d}"
    block = phone_block(phone_normalize(phone=_written(a, prefix_a, style_a)))
    assert block == phone_block(_written(b, prefix_b, style_b)) == f"{head}xx"


@settings(deadline=None)
@given(head=heads, other=heads, one=tails, two=tails)
def test_numbers_in_another_run_are_in_another_block(head, other, one, two):
    same = phone_block(f"{head}{one:02d}") == phone_block(f"{other}{two:02d}")
    assert same == (head == other)


@settings(deadline=None)
@given(number=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), step=st.integers(1, 20))
def test_sequential_numbers_fall_in_at_most_two_neighbouring_blocks(number, step):
    """A ring's run of consecutive SIMs, wherever it starts, spans one block, or two when
    it crosses a hundred."""
    run = [str(int(number) + n) for n in range(step)]
    blocks = {phone_block(p) for p in run if len(p) == 11}
    assert 1 <= len(blocks) <= 2


@settings(deadline=None)
@given(digits=st.from_regex(r"[0-9]{8,18}", fullmatch=True))
def test_any_long_number_has_a_block_of_its_digits_and_a_country_code_is_kept_off_a_mobile(
        digits):
    block = phone_block(digits)
    national = phone_national(digits)
    assert block == national[:-2] + "xx" and national in digits


@pytest.mark.parametrize("short", ["", "12345", "1234567", "+86 12", "abc"])
def test_a_number_too_short_has_no_block(short):
    assert phone_block(short) == ""


def test_the_fixture_gives_genuine_customers_scattered_numbers():
    """Consecutive test customers are not a SIM farm (see shop.tests.fixtures.SCATTER)."""
    blocks = {phone_block(scattered_phone(n)) for n in range(1, 20_001)}
    assert len(blocks) == 20_000
