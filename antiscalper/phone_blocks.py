"""Phone number blocks in linking: a run of consecutive numbers (`shop.phone_blocks`) held by
several of a sale's new accounts is how a SIM farm looks; neighbouring numbers held by the
store's ordinary customers are how a carrier's shop or a company's plan looks.

So a block is a *claimed* identifier (anyone can type a number; it ties for review at most,
never blocks) and, as a building is, weighed by its *normal* population: every account in the
store holding a number in it except the sale's newcomers there (participants who had bought
nothing before the sale opened). A block few accounts hold normally ties the sale's newcomers
in it (`linking.strength`, `RARE_AT_PHONE_BLOCK`); one many hold normally fades and ties no one.
Its established holders (participants who bought before the opening) are never tied by it: an
established fan is not punished because new accounts took the numbers next to theirs. A block
in which the sale's accounts hold fewer than `BLOCK_MIN` different numbers ties no one: a
couple on one family plan, or one number however each account wrote it (a shared phone is
the phone identifier's business, not a run of SIMs).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Protocol

from django.db.models import Q

from antiscalper import established
from shop.models import Address, Customer
from shop.phone_blocks import BLOCK_DIGITS, phone_block, phone_national


class Held(Protocol):
    """What blocks_weigh reads of antiscalper.holders.Held (which imports this module)."""

    holders: dict[tuple[str, str], set[int]]

KIND = "phone_block"
BLOCK_MIN = 3
SLICE = 100  # blocks per query: each is up to 6 LIKE prefixes, and SQLite parses an OR chain
# as a tree at most 1000 deep


def _prefixes(block: str) -> list[str]:
    """How a number of the block may start as stored (phone_normalize keeps a leading +)."""
    head = block[:-BLOCK_DIGITS]
    written = [head, f"+{head}"]
    if len(head) == 11 - BLOCK_DIGITS and head.startswith("1"):  # a Chinese mobile
        written += [f"{cc}{head}" for cc in ("86", "+86", "0086", "+0086")]
    return written


def _store_holders(blocks: list[str]) -> dict[str, set[int]]:
    """block -> every account in the store holding a number in it (registered or on an
    address)."""
    found: dict[str, set[int]] = defaultdict(set)
    for start in range(0, len(blocks), SLICE):
        part = blocks[start:start + SLICE]
        wanted = Q()
        for block in part:
            for prefix in _prefixes(block):
                wanted |= Q(phone__startswith=prefix)
        pairs = [*Customer.objects.filter(wanted).values_list("phone", "user_id"),
                 *Address.objects.filter(wanted).values_list("phone", "customer__user_id")]
        for phone, user_id in pairs:
            found[phone_block(phone)].add(user_id)
    return found


def _bought_before(users: set[int], opened: datetime | None) -> set[int]:
    """Those of `users` established when the sale opened (antiscalper.established)."""
    ids, bought = sorted(users), set()
    for start in range(0, len(ids), 5000):
        bought |= established.established_among(ids[start:start + 5000], opened)
    return bought


def blocks_weigh(held: Held, population: dict, opened: datetime | None) -> None:
    """Keep the blocks that may tie (see the module), each with its normal population and its
    established holders (never tied by it); drop the others from `held`."""
    numbers: dict[tuple[str, int], set[str]] = defaultdict(set)  # (block, user) -> numbers
    for (kind, value), users in list(held.holders.items()):
        if kind == "phone":
            for user in users:
                numbers[(phone_block(value), user)].add(phone_national(value))
    for key in [key for key in held.holders if key[0] == KIND]:
        if len(set().union(*(numbers[(key[1], u)] for u in held.holders[key]))) < BLOCK_MIN:
            del held.holders[key]  # a couple's plan, or one number however it was written
    kept = sorted(value for kind, value in held.holders if kind == KIND)
    store = _store_holders(kept)
    established = _bought_before(set().union(*store.values()) if store else set(), opened)
    for block in kept:
        key = (KIND, block)
        newcomers = held.holders[key] - established
        population[key] = len(store.get(block, set()) - newcomers)
        held.established[key] = held.holders[key] & established
