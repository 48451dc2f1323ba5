"""A phone number's carrier block: the number with its last two digits dropped.

Carriers sell SIM cards in runs of consecutive numbers, so a ring that bought its SIMs in bulk
holds numbers that differ only in their last digits (138 0013 8001, ...8002, ...8017), while
genuine customers' numbers are scattered. The block is one key for such a run, however each
number was written: a Chinese mobile with or without +86 / 0086 / 86 is its 11 national
digits, so "+86 138 0013 8001" and "13800138017" share "138001380xx". Whether a block means
anything is the linking's question (`antiscalper.phone_blocks`: how many accounts hold the
block normally); numbers too short to have a block have none.
"""

from __future__ import annotations

import re
import unicodedata

BLOCK_DIGITS = 2  # a run of 100 numbers
MIN_DIGITS = 8    # shorter numbers (extensions, short codes) have no meaningful block
_CN_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def _digits(phone: str) -> str:
    return "".join(str(unicodedata.decimal(ch)) for ch in phone or "" if ch.isdecimal())


def phone_national(phone: str) -> str:
    """The number's digits, a Chinese mobile without its country code."""
    digits = _digits(phone)
    for prefix in ("0086", "86"):
        rest = digits.removeprefix(prefix)
        if rest != digits and _CN_MOBILE.fullmatch(rest):
            return rest
    return digits


def phone_block(phone: str) -> str:
    """The block `phone` belongs to ("138001380xx"), or "" for a number too short to have one."""
    national = phone_national(phone)
    if len(national) < MIN_DIGITS:
        return ""
    return national[:-BLOCK_DIGITS] + "x" * BLOCK_DIGITS
