"""Draws (抽签): reservers enter, winners are drawn at random weighted by fan level, each
winner gets a purchase right for one unit; rights not used in time pass down the waitlist.

The draw is a pure function of its entries and a seed, both recorded on the Draw row, so
anyone can re-run `draw_winners` and check that ops did not pick the winners by hand.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from antiscalper.selectors import accounts_blocked, linking_blocked
from core.errors import DomainError
from sales.gate import ops as gate_ops
from sales.models import (
    HOLDING,
    Draw,
    FCode,
    FlashSale,
    Reservation,
    SaleMode,
    sale_lock,
    sale_locked,
)
from sales.modes.fcodes import code_hash, code_hint, code_new
from sales.selectors import not_a_draw

# An Lv3 enthusiast is four times as likely to win as a newcomer; honorary developers five.
WEIGHTS = {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0, 4: 5.0}


def draw_winners(*, entries: list[list], units: int, seed: str) -> tuple[list[int], list[int]]:
    """Weighted sampling without replacement (Efraimidis-Spirakis keys) over entries
    `[reservation id, user id, fan level, phone]` in reservation order. At most one win per
    phone. Returns (winners in draw order, waitlist in reservation order)."""
    rng = random.Random(seed)
    keyed = []
    for reservation_id, user_id, level, phone in sorted(entries):
        key = rng.random() ** (1.0 / WEIGHTS.get(level, 1.0))
        keyed.append((key, reservation_id, user_id, phone))
    winners, phones = [], set()
    for _, _, user_id, phone in sorted(keyed, reverse=True):
        if len(winners) == units:
            break
        if phone in phones:
            continue
        phones.add(phone)
        winners.append(user_id)
    chosen = set(winners)
    waitlist = [user_id for _, user_id, _, _ in sorted(entries) if user_id not in chosen]
    return winners, waitlist


def _rights(sale: FlashSale, user_ids: list[int], expires_at: datetime) -> list[FCode]:
    codes = FCode.objects.bulk_create(
        FCode(sale=sale, user_id=user_id, kind=FCode.Kind.RIGHT, code_hash=code_hash(plain),
              hint=code_hint(plain), expires_at=expires_at)
        for user_id, plain in ((u, code_new()) for u in user_ids))
    if sale.gate_loaded_at:
        holders = gate_ops.Holders.of(codes=codes)
        transaction.on_commit(lambda: gate_ops.holders_add(sale_id=sale.pk, holders=holders))
    return codes


def draw_run(*, sale_id: int, run_by_id: int | None = None, seed: str | None = None,
             now: datetime | None = None) -> Draw:
    """Run a draw-mode sale's draw, once, at or after its reservation window closed."""
    now = now or timezone.now()
    with transaction.atomic():
        sale = sale_locked(sale_id)
        if sale.mode != SaleMode.DRAW:
            raise not_a_draw()
        if not sale.reservation_closes_at or now < sale.reservation_closes_at:
            raise DomainError("draw_not_closed", gettext("Entries are still open."), details={
                "reservation_closes_at": sale.reservation_closes_at.isoformat()
                if sale.reservation_closes_at else None})
        if Draw.objects.filter(sale=sale).exists():
            raise DomainError("draw_already_run", gettext("This sale's draw has already run."))
        entries = [[r.pk, r.user_id, r.user.customer.fan_level, r.user.customer.phone]
                   for r in Reservation.objects.filter(sale=sale)
                   .select_related("user__customer").order_by("pk")]
        # Blacklisted at the draw, or blocked by linking as a ring linked at entry: out of it
        # (the gate, or the pipeline, would refuse their right anyway, and the unit would
        # wait for the right to lapse). Recorded entries are the ones drawn.
        entrants = [entry[1] for entry in entries]
        barred = accounts_blocked(user_ids=entrants, now=now) | linking_blocked(
            sale_id=sale.pk, user_ids=set(entrants), now=now)
        entries = [entry for entry in entries if entry[1] not in barred]
        seed = seed or secrets.token_hex(16)
        winners, waitlist = draw_winners(entries=entries, units=sale.stock, seed=seed)
        try:
            draw = Draw.objects.create(sale=sale, seed=seed, entries=entries, winners=winners,
                                       waitlist=waitlist, run_by_id=run_by_id)
        except IntegrityError:
            raise DomainError("draw_already_run",
                              gettext("This sale's draw has already run.")) from None
        _rights(sale, winners, max(now, sale.starts_at) + sale.right_window)
    return draw


def draw_rights_pass_on(*, sale_id: int, now: datetime | None = None) -> int:
    """Rights that lapsed unused (and units given back by unpaid winners) pass to the next
    entrants of the waitlist, in reservation order. Returns the rights issued."""
    now = now or timezone.now()
    with transaction.atomic():
        sale = sale_lock(sale_id)
        draw = Draw.objects.filter(sale=sale).first()
        if draw is None or now >= sale.ends_at:
            return 0
        rights = FCode.objects.filter(sale=sale, kind=FCode.Kind.RIGHT)
        expired = list(rights.filter(order__isnull=True, lapsed_at__isnull=True,
                                     expires_at__lte=now).values_list("pk", "code_hash"))
        spent = gate_ops.codes_spent(sale_id=sale.pk, code_hashes=[h for _, h in expired])
        # A right spent in the gate whose ticket is still queued has not lapsed: its order
        # is on the way, and its unit is taken.
        rights.filter(pk__in=[pk for pk, h in expired if h not in spent]).update(lapsed_at=now)
        outstanding = rights.filter(order__isnull=True, lapsed_at__isnull=True).count()
        holding = rights.filter(order__status__in=HOLDING).count()
        room = sale.stock - outstanding - holding
        had = set(rights.values_list("user_id", flat=True))
        had |= accounts_blocked(user_ids=draw.waitlist, now=now)  # blacklisted since the draw
        had |= linking_blocked(sale_id=sale.pk, user_ids=set(draw.waitlist), now=now)
        nxt = [user_id for user_id in draw.waitlist if user_id not in had][:max(room, 0)]
        _rights(sale, nxt, max(now, sale.starts_at) + sale.right_window)
    return len(nxt)
