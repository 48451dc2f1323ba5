"""The frozen sales.pipeline.risk_feed (see loadtests.risk_before): verbatim, do not edit."""

from __future__ import annotations

from antiscalper.attempts import (
    Attempt,
)
from core.http import client_parse
from sales.gate import keys as gate_keys
from sales.models import FlashSale, Reservation


def attempt_of(sale: FlashSale, fields: dict[str, str], reserved: set[int]) -> Attempt:
    """An attempt as the anti-scalper module describes it, from a stream entry's fields."""
    user_agent, headers = client_parse(fields.get("client", ""))
    user_id = int(fields["user"])
    return Attempt(
        sale_id=sale.pk, user_id=user_id,
        kind="fcode" if fields.get("fcode") == "1" else "purchase",
        at_ms=int(fields["at"]), opens_ms=gate_keys.epoch_ms(sale.starts_at),
        device=fields.get("device", ""), ip=fields.get("ip", ""), user_agent=user_agent,
        headers=headers, reserved=user_id in reserved,
        verdict=fields.get("verdict", "admitted"), ticket=fields.get("ticket", ""),
        address_id=int(fields["address"]) if fields.get("address") else None,
    )


def _reserved(sale: FlashSale, users: set[int]) -> set[int]:
    return set(Reservation.objects.filter(sale=sale, user_id__in=users)
               .values_list("user_id", flat=True))


def attempts_of(sale: FlashSale, entries: list[tuple[str, dict[str, str]]]) -> list[Attempt]:
    reserved = _reserved(sale, {int(fields["user"]) for _, fields in entries})
    return [attempt_of(sale, fields, reserved) for _, fields in entries]
