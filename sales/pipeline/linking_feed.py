"""Linking during the rush and before it: the sales side of `antiscalper.incremental`.

Every second (beat `sales-linking-live`) each sale that is live, lately ended or taking
reservations has its new arrivals linked (`linking_live`); every minute the full pass
reconciles (`linking_full`). Both cancel what linking blocks, through
`sales.returns.orders_cancel_for_risk` (each order once, its units back once), so a blocked
ring member's order is cancelled within about two seconds of the admission that completed the
ring, before its payment window is of any use to it: paying then is refused `not_payable`.

Before the sale opens a reservation is the stake a ring holds (the reserver is loaded into the
gate as entitled to buy), and in a draw an entry is (it wins the rights): reservers count as
buyers (`staked`), so a ring tied at reservation by proven identifiers is blocked before T0
(and left out of the draw) and one tied only by claimed details is flagged for review, never
blocked. A blocked account's tickets are then refused by the pipeline (`blocked_accounts`,
ticket reason `risk_blocked`) before any order is written.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from antiscalper import incremental, linking
from antiscalper.selectors import linking_blocked
from sales import selectors
from sales.models import FlashSale, Reservation, SaleMode
from sales.returns import orders_cancel_for_risk


def staked(*, sale_id: int, now: datetime) -> linking.Staked | None:
    """Before the sale opens, or in a draw (whose entries are what wins its rights), the
    function that says which accounts reserved (entered) it."""
    sale = FlashSale.objects.filter(pk=sale_id).values("starts_at", "mode").first()
    if sale is None or (now >= sale["starts_at"] and sale["mode"] != SaleMode.DRAW):
        return None

    def reserved(users: set[int]) -> set[int]:
        return set(Reservation.objects.filter(sale_id=sale_id, user_id__in=sorted(users))
                   .values_list("user_id", flat=True))

    return reserved


def linking_live(*, sale_id: int, now: datetime | None = None) -> int:
    """Link the sale's accounts that arrived since the last step, cancel whom it blocks; the
    orders cancelled. A step killed before its end is redone by the next one."""
    now = now or timezone.now()
    with incremental.linking_step(sale_id=sale_id, now=now,
                                  staked=staked(sale_id=sale_id, now=now)) as blocked:
        return orders_cancel_for_risk(sale_id=sale_id, user_ids=blocked) if blocked else 0


def linking_full(*, sale_id: int, now: datetime | None = None) -> int:
    """The full pass over the sale (the reconciler), cancelling whom it blocks."""
    now = now or timezone.now()
    blocked = linking.linking_run(sale_id=sale_id, now=now,
                                  staked=staked(sale_id=sale_id, now=now))
    return orders_cancel_for_risk(sale_id=sale_id, user_ids=blocked) if blocked else 0


def linking_tick(*, now: datetime | None = None) -> int:
    """One incremental step for every sale linking looks after."""
    now = now or timezone.now()
    return sum(linking_live(sale_id=sale_id, now=now)
               for sale_id in selectors.sales_linking_due(now=now))


def blocked_accounts(*, sale_id: int, user_ids: set[int]) -> set[int]:
    """Accounts of a batch that linking blocked in the sale (and ops did not clear)."""
    return linking_blocked(sale_id=sale_id, user_ids=user_ids) if user_ids else set()
