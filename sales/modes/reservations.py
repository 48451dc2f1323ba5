"""Reservations (预约): who may buy when the sale opens, or enter its draw.

A reservation feeds the one gate: the reservers live beside the sale's stock in Redis, and the
admission script checks them in the same atomic call.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from antiscalper.attempts import Attempt, attempts_record
from antiscalper.selectors import buyer_blocked
from core.errors import DomainError, not_found
from core.http import client_parse
from sales.gate import ops as gate_ops
from sales.gate.admission import blocked_refusal
from sales.gate.keys import epoch_ms
from sales.models import FlashSale, Reservation


def reservation_create(*, sale_id: int, user_id: int, now: datetime | None = None,
                       device: str = "", ip: str = "", client: str = "{}",
                       ) -> tuple[Reservation, bool]:
    """Reserve a sale inside its window; returns (reservation, created). Idempotent. Every
    attempt is a signal for the anti-scalper rules (reservation bursts). A blacklisted buyer
    is refused `blocked`, as the purchase would refuse it: in a draw sale the reservation is
    the draw entry, and a reserver is loaded into the gate as entitled to buy."""
    now = now or timezone.now()
    sale = FlashSale.objects.filter(pk=sale_id).first()
    if sale is None:
        raise not_found("sale")
    user_agent, headers = client_parse(client)
    attempts_record(attempts=[Attempt(
        sale_id=sale.pk, user_id=user_id, kind="reservation", at_ms=epoch_ms(now),
        opens_ms=epoch_ms(sale.starts_at), device=device, ip=ip, user_agent=user_agent,
        headers=headers, reserved=False, verdict="reservation")])
    if buyer_blocked(user_id=user_id, device=device, ip=ip, now=now):
        raise blocked_refusal()
    existing = Reservation.objects.filter(sale=sale, user_id=user_id).first()
    if existing:
        return existing, False
    opens, closes = sale.reservation_opens_at, sale.reservation_closes_at
    if not opens or not closes or not opens <= now < closes:
        raise DomainError(
            "reservation_closed", "Reservations for this sale are not open.",
            details={"reservation_opens_at": opens.isoformat() if opens else None,
                     "reservation_closes_at": closes.isoformat() if closes else None})
    try:
        with transaction.atomic():
            reservation = Reservation.objects.create(sale=sale, user_id=user_id)
            if sale.gate_loaded_at:
                transaction.on_commit(lambda: gate_ops.holders_add(
                    sale_id=sale.pk, holders=gate_ops.Holders(reservers=[user_id], codes={},
                                                          rights={})))
    except IntegrityError:  # the same account reserving twice at once
        return Reservation.objects.get(sale=sale, user_id=user_id), False
    return reservation, True
