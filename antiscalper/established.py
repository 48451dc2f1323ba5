"""Established customers: accounts that bought and received before, long before this sale.

Issue 16: "an established account is not punished because new accounts copied its details",
and a household of four sharing one device and one address is a trap, not a ring. Both are
the same fact seen from two sides: what an established customer shares with a few others
it lives with (a device id, an address, a phone on an address) says nothing against it. So

- in realtime scoring (`rules.Scorer`) an established account's copyable details (the
  identity and device families) and its IP add at most `review_score - 1` points: copied
  or shared, they cannot even bring it to review; its own behaviour (timing, the client,
  a list, proven links, a cluster linking found) still can;
- in linking (`households_apart`, called by `linking.clusters_find`) an identifier a
  household shares (a device id, an address, a phone; a card or a confirmed number too:
  families pay with one card) that ties only established customers ties none of them when
  they are a household: at most `HOUSEHOLD_MAX` accounts, counted over every such tie among
  them (a ring of twelve spread four to a phone is twelve, not three fours), who also share
  one exact delivery address (they live together). A detail anyone can copy (a device id,
  an address, a phone) held by established customers and by newcomers ties the newcomers
  to each other, never to the customers, and the newcomers' cluster counts the customers
  they copied (seven accounts on one phone, four of them established: three newcomers
  counted as seven, reviewed; the four untouched). Anything else ties everyone, as before.
  Of a browser the store issued an id to, the accounts seen on it before the sale count as
  its household like customers do (a family's laptop, used for months).

Established means a paid, shipped or delivered order placed `ESTABLISHED_DAYS` or more
before the sale opened, in no flash sale where linking flagged the account or a decision
blocked it, unless ops cleared it (a ring that got through one sale with a linking review
has not become a customer by it; a realtime review, which fans get too, does not count).
A ring can still buy a cheap item per account to look established: the age of that order is
what it cannot fake quickly, and its accounts are linked all the same once they are more
than a household or do not live together. Buildings and phone blocks count their genuine
holders with this same test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Protocol

from django.db.models import F, Min, Q

from antiscalper.bulk import Within
from antiscalper.models import AttemptSignal, Decision, RiskDecision
from core.devices import ISSUED_KIND
from shop.models import Order, OrderStatus

ESTABLISHED_DAYS = 30
HOUSEHOLD_MAX = 4  # the issue's household of four
BOUGHT = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
# What a household shares: claimed details, and the proven ones a family has in common too
# (the family laptop's issued id, the card a parent pays with, one phone confirmed by all).
HOUSEHOLD_KINDS = frozenset({"device", ISSUED_KIND, "address", "phone", "payment",
                             "verified_phone"})


# Details anyone can type or send: one customer's, copied by newcomers, ties only them.
COPYABLE_KINDS = frozenset({"device", "address", "phone"})


class Held(Protocol):
    """What households_apart reads and writes of antiscalper.holders.Held."""

    holders: dict[tuple[str, str], set[int]]
    proven: dict[tuple[str, str], set[int]]
    established: dict[tuple[str, str], set[int]]
    settled: set[int]
    before: dict[tuple[str, str], set[int]]
    standing_claimed: dict[tuple[str, str], int]


def first_bought(users: Iterable[int]) -> dict[int, datetime]:
    """Each account's first order it paid for, leaving out the flash sales it was flagged in
    (by linking, or blocked; not cleared): two queries. Compare with a sale's opening through
    `established_at`."""
    ids = sorted(set(users))
    orders = list(Order.objects.filter(Within(F("user_id"), ids), status__in=BOUGHT)
                  .values("user_id", "sale_id").annotate(first=Min("created_at"))
                  .values_list("user_id", "sale_id", "first").order_by())
    sales = sorted({sale for _, sale, _ in orders if sale is not None})
    flagged = set(RiskDecision.objects.filter(
        Q(source=RiskDecision.Source.LINKING, decision__in=[Decision.REVIEW, Decision.BLOCK])
        | Q(decision=Decision.BLOCK), Within(F("user_id"), ids), Within(F("sale_id"), sales),
    ).exclude(review_status=RiskDecision.Review.CLEARED).values_list("user_id", "sale_id")
        .order_by().distinct()) if sales else set()
    first: dict[int, datetime] = {}
    for user, sale, at in orders:
        if (user, sale) not in flagged and (user not in first or at < first[user]):
            first[user] = at
    return first


def established_at(first: datetime | None, opened: datetime | None) -> bool:
    """Whether an account whose first bought order is `first` was established at `opened`."""
    return (first is not None and opened is not None
            and first <= opened - timedelta(days=ESTABLISHED_DAYS))


def sale_opened_at(sale_id: int) -> datetime | None:
    """When the sale opened, as its recorded attempts tell (antiscalper knows no sales)."""
    signal = AttemptSignal.objects.filter(sale_id=sale_id).values("at", "ms_since_open").first()
    return signal and signal["at"] - timedelta(milliseconds=signal["ms_since_open"])


def established_among(users: Iterable[int], opened: datetime | None) -> set[int]:
    """The accounts among `users` established when the sale opened."""
    if opened is None:
        return set()
    return {user for user, first in first_bought(users).items()
            if established_at(first, opened)}


def households_apart(held: Held, *, strong: Callable[[tuple[str, str]], bool]) -> None:
    """Keep households and copied customers out of the claimed ties (see the module):
    `held.settled` are the established participants; `strong(key)`, whether the identifier
    may link at all (only those decide who is a household, in the full pass and in an
    incremental step's region alike)."""
    if not held.settled and not any(held.before.values()):
        return
    addresses_of: dict[int, set[str]] = defaultdict(set)
    for (kind, value), users in held.holders.items():
        if kind == "address":
            for user in users:
                addresses_of[user].add(value)
    parent: dict[int, int] = {}

    def find(user: int) -> int:
        parent.setdefault(user, user)
        while parent[user] != user:
            parent[user] = parent[parent[user]]
            user = parent[user]
        return user

    shared: list[tuple[tuple[str, str], set[int]]] = []
    for key, users in held.holders.items():
        if key[0] not in HOUSEHOLD_KINDS or len(users) < 2 or not strong(key):
            continue
        # Customers, and those a browser's id was issued to before the sale (its family).
        standing = users & (held.settled | held.before.get(key, set()))
        if standing and users - standing and key[0] in COPYABLE_KINDS:
            # Customers' details copied by newcomers: the newcomers are tied to each other,
            # counted with the customers they copied (linking: the cluster's `standing`).
            held.established[key] = held.established.get(key, set()) | standing
            held.standing_claimed[key] = len(standing)
        elif len(standing) >= 2 and standing == users:  # customers only: a household?
            first, *rest = sorted(standing)
            for user in rest:
                parent[find(user)] = find(first)
            shared.append((key, standing))
    groups: dict[int, set[int]] = defaultdict(set)
    for user in list(parent):
        groups[find(user)].add(user)
    for key, standing in shared:
        group = groups[find(next(iter(standing)))]
        if len(group) <= HOUSEHOLD_MAX and set.intersection(*(addresses_of[u] for u in group)):
            held.established[key] = held.established.get(key, set()) | standing
