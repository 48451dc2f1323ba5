"""F-codes (F码): the code itself, and issuing codes to fans within the sale's quota.

A code is unguessable, easy to type and stored only as an HMAC: 15 symbols from a 25-symbol
alphabet without look-alikes (no 0/O, 1/I/L, 2/Z, 5/S, 8/B), printed in groups of five.
25^15 is about 2^69.7 possibilities, above the 64 bits asked for, and the gate locks an
account or device out after a few wrong guesses anyway. Typing is forgiving: case, spaces
and dashes do not matter.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext

from core.errors import DomainError, invalid
from sales.gate import ops as gate_ops
from sales.gate.keys import code_hash, code_normalize
from sales.models import FCode, SaleMode, sale_locked
from shop.models import Customer

ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"  # 25 symbols, none of them easy to confuse
GROUPS, GROUP_SIZE = 3, 5


def code_new() -> str:
    """A fresh code such as 'K7Q3M-9XPAC-4HTRW'."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_SIZE))
    return "-".join(symbols[i:i + GROUP_SIZE] for i in range(0, len(symbols), GROUP_SIZE))


def code_hint(code: str) -> str:
    return code_normalize(code)[-GROUP_SIZE:]


@dataclass(frozen=True)
class IssuedCode:
    user_id: int
    username: str
    code: str          # shown once, to be delivered to the fan; only its HMAC is stored


def fcodes_issue(*, sale_id: int, count: int, fan_level_min: int) -> list[IssuedCode]:
    """Issue F-codes to the most loyal fans without one: highest level first, then the
    longest-standing. Never more codes than the sale's F-code quota."""
    if count < 1:
        raise invalid(gettext("Issue at least one code."), count=["must be >= 1"])
    with transaction.atomic():
        sale = sale_locked(sale_id)
        if sale.mode == SaleMode.DRAW:
            raise DomainError("wrong_mode",
                              gettext("A draw sale gives purchase rights, not F-codes."))
        issued = FCode.objects.filter(sale=sale, kind=FCode.Kind.FCODE).count()
        room = min(count, sale.fcode_quota - issued)
        if room <= 0:
            raise DomainError("fcode_quota_used",
                              gettext("Every unit of the F-code quota has a code."),
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
            raise DomainError("wrong_mode", gettext("A draw sale's units belong to its winners."))
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
