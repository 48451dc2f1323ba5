"""The Mi.com sale modes' own writes: reservations (预约), F-codes and their quota.

All of them feed the one gate: reservers, F-code HMACs and quota live beside the sale's
stock in Redis, and the admission script decides with them in the same atomic call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from antiscalper.selectors import buyer_blocked
from antiscalper.signals import Attempt, attempts_record
from core.errors import DomainError, invalid, not_found
from core.http import client_parse
from sales import gate_ops
from sales.fcodes import code_hash, code_hint, code_new
from sales.gate import REFUSALS
from sales.gate_keys import epoch_ms
from sales.models import FCode, FlashSale, Reservation, SaleMode, sale_locked
from shop.models import Customer

APPEAL = ("Write to the appeals desk (POST /api/v1/appeals) with your order or account "
          "details; a person reviews every appeal.")


def blocked_refusal() -> DomainError:
    """The purchase's own `blocked` refusal (sales.gate.admit), for the paths beside it."""
    return DomainError("blocked", REFUSALS["blocked"], details={"appeal": APPEAL})


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


@dataclass(frozen=True)
class IssuedCode:
    user_id: int
    username: str
    code: str          # shown once, to be delivered to the fan; only its HMAC is stored


def fcodes_issue(*, sale_id: int, count: int, fan_level_min: int) -> list[IssuedCode]:
    """Issue F-codes to the most loyal fans without one: highest level first, then the
    longest-standing. Never more codes than the sale's F-code quota."""
    if count < 1:
        raise invalid("Issue at least one code.", count=["must be >= 1"])
    with transaction.atomic():
        sale = sale_locked(sale_id)
        if sale.mode == SaleMode.DRAW:
            raise DomainError("wrong_mode", "A draw sale gives purchase rights, not F-codes.")
        issued = FCode.objects.filter(sale=sale, kind=FCode.Kind.FCODE).count()
        room = min(count, sale.fcode_quota - issued)
        if room <= 0:
            raise DomainError("fcode_quota_used", "Every unit of the F-code quota has a code.",
                              details={"fcode_quota": sale.fcode_quota, "issued": issued})
        fans = (Customer.objects.filter(fan_level__gte=fan_level_min)
                .exclude(user__fcodes__sale=sale).select_related("user")
                .order_by("-fan_level", "joined_at", "pk")[:room])
        plain = {fan.user_id: code_new() for fan in fans}
        codes = FCode.objects.bulk_create(
            FCode(sale=sale, user_id=fan.user_id, code_hash=code_hash(plain[fan.user_id]),
                  hint=code_hint(plain[fan.user_id]), expires_at=sale.ends_at)
            for fan in fans)
        if sale.gate_loaded_at:
            transaction.on_commit(lambda: gate_ops.holders_add(
                sale_id=sale.pk, holders=gate_ops.Holders.of(codes=codes)))
    return [IssuedCode(user_id=f.user_id, username=f.user.username, code=plain[f.user_id])
            for f in fans]


def fcode_quota_release(*, sale_id: int) -> int:
    """Give the F-code quota's unsold units to the open rush; returns the units moved."""
    with transaction.atomic():
        sale = sale_locked(sale_id)
        if sale.mode == SaleMode.DRAW:
            raise DomainError("wrong_mode", "A draw sale's units belong to its winners.")
        # Never more than the record says is unused: a gate back from an older snapshot may
        # believe sold codes' units are still free.
        unused = max(sale.fcode_quota - sale.fcode_units_taken, 0)
        if sale.gate_loaded_at:
            moved = gate_ops.quota_release(sale_id=sale.pk, units=unused)
        else:
            moved = unused
        sale.fcode_quota -= moved
        sale.save(update_fields=["fcode_quota"])
    return moved
