"""Established customers: accounts that bought and received before, long before this sale.

Issue 16: "an established account is not punished because new accounts copied its details",
and a household of four sharing one device and one address is a trap, not a ring. Both are
the same fact seen from two sides: what an established customer shares with a few others
(a device id, an address, a phone on an address) says nothing against it. So

- in realtime scoring (`rules.Scorer`) an established account's copyable details (the
  identity and device families) and its IP add at most `review_score - 1` points: copied
  or shared, they cannot even bring it to review; its own behaviour (timing, the client,
  a list, proven links, a cluster linking found) still can;
- in linking (`antiscalper.holders`) a claimed identifier held by at most
  `HOUSEHOLD_MAX` established accounts does not tie them: newcomers who copied it are tied
  to each other through it, never to them. Held by more, it ties everyone again: a farm of
  accounts that each bought once is no household.

Established means a paid, shipped or delivered order placed `ESTABLISHED_DAYS` or more
before the sale opened. A ring could buy a cheap item per account to look established; the
age of that order is what it cannot fake quickly, and a ring larger than a household on one
device is linked all the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import F, Min

from antiscalper.bulk import Within
from shop.models import Order, OrderStatus

ESTABLISHED_DAYS = 30
HOUSEHOLD_MAX = 4  # the household of four
BOUGHT = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


def first_bought(users: Iterable[int]) -> dict[int, datetime]:
    """Each account's first order it paid for (one query): compare with a sale's opening
    through `established_at`."""
    return dict(Order.objects.filter(Within(F("user_id"), sorted(set(users))),
                                     status__in=BOUGHT)
                .values("user_id").annotate(first=Min("created_at"))
                .values_list("user_id", "first").order_by())


def established_at(first: datetime | None, opened: datetime | None) -> bool:
    """Whether an account whose first bought order is `first` was established at `opened`."""
    return (first is not None and opened is not None
            and first <= opened - timedelta(days=ESTABLISHED_DAYS))


def established_among(users: Iterable[int], opened: datetime | None) -> set[int]:
    """The accounts among `users` established when the sale opened."""
    if opened is None:
        return set()
    return {user for user, first in first_bought(users).items()
            if established_at(first, opened)}
