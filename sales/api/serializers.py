"""Shapes of the sales API (docs/api.md): thin, no business rules."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from rest_framework import serializers

from core.errors import invalid
from sales.gate.keys import SHARDS_MAX
from sales.models import FlashSale, SaleMode
from shop.models import Sku


class SaleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    sku = serializers.IntegerField(source="sku_id")
    sku_name = serializers.CharField(source="sku.name")
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    status = serializers.CharField()
    stock = serializers.IntegerField()
    stock_left = serializers.IntegerField()
    per_user_limit = serializers.IntegerField()
    mode = serializers.CharField()
    reservation_opens_at = serializers.DateTimeField(allow_null=True)
    reservation_closes_at = serializers.DateTimeField(allow_null=True)
    deposit = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    payment_window_seconds = serializers.IntegerField()
    requires_reservation = serializers.BooleanField()
    fcode_quota = serializers.IntegerField()
    deposit_expansion = serializers.DecimalField(max_digits=10, decimal_places=2)
    balance_due = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    deposit_window_seconds = serializers.IntegerField()
    balance_opens_at = serializers.DateTimeField(allow_null=True)
    balance_closes_at = serializers.DateTimeField(allow_null=True)
    right_window_seconds = serializers.IntegerField()


def sale_representation(sale: FlashSale, stock_left: int, status: str) -> dict:
    balance = sale.balance_per_unit
    return SaleOutput({
        **{f: getattr(sale, f) for f in (
            "id", "title", "sku_id", "sku", "price", "starts_at", "ends_at", "stock",
            "per_user_limit", "mode", "reservation_opens_at", "reservation_closes_at",
            "deposit", "fcode_quota", "deposit_expansion", "balance_opens_at",
            "balance_closes_at")},
        "requires_reservation": sale.needs_reservation, "balance_due": balance,
        "status": status, "stock_left": stock_left,
        "payment_window_seconds": int(sale.payment_window.total_seconds()),
        "deposit_window_seconds": int(sale.deposit_window.total_seconds()),
        "right_window_seconds": int(sale.right_window.total_seconds()),
    }).data


class PurchaseInput(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=100, default=1)
    address_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False,
                                          allow_null=True)
    fcode = serializers.CharField(max_length=32, required=False, allow_blank=False)


class PurchaseOutput(serializers.Serializer):
    ticket = serializers.CharField()
    status = serializers.CharField()
    position = serializers.IntegerField()


class TicketOutput(serializers.Serializer):
    ticket = serializers.CharField()
    status = serializers.ChoiceField(choices=["queued", "confirmed", "rejected"])
    position = serializers.IntegerField(allow_null=True)
    order = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_null=True)


class SaleInput(serializers.Serializer):
    """Ops' body for scheduling and editing a sale (the representation's field names)."""

    sku = serializers.PrimaryKeyRelatedField(queryset=Sku.objects.filter(is_active=True))
    title = serializers.CharField(max_length=160)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"))
    stock = serializers.IntegerField(min_value=0, max_value=10_000_000)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    per_user_limit = serializers.IntegerField(min_value=1, max_value=100, default=1)
    mode = serializers.ChoiceField(choices=SaleMode.choices, default=SaleMode.OPEN)
    reservation_opens_at = serializers.DateTimeField(required=False, allow_null=True)
    reservation_closes_at = serializers.DateTimeField(required=False, allow_null=True)
    deposit = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"),
                                       required=False, allow_null=True)
    payment_window_seconds = serializers.IntegerField(min_value=60, max_value=7 * 86400,
                                                      required=False)
    requires_reservation = serializers.BooleanField(required=False)
    fcode_quota = serializers.IntegerField(min_value=0, required=False)
    deposit_expansion = serializers.DecimalField(max_digits=10, decimal_places=2,
                                                 min_value=Decimal("0"), required=False)
    deposit_window_seconds = serializers.IntegerField(min_value=60, max_value=7 * 86400,
                                                      required=False)
    balance_opens_at = serializers.DateTimeField(required=False, allow_null=True)
    balance_closes_at = serializers.DateTimeField(required=False, allow_null=True)
    right_window_seconds = serializers.IntegerField(min_value=60, max_value=7 * 86400,
                                                    required=False)
    shards = serializers.IntegerField(min_value=1, max_value=SHARDS_MAX, required=False)

    def to_service_fields(self) -> dict:
        fields = dict(self.validated_data)
        for name in ("payment_window", "deposit_window", "right_window"):
            if f"{name}_seconds" in fields:
                fields[name] = timedelta(seconds=fields.pop(f"{name}_seconds"))
        return fields


class FCodeIssueInput(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=100_000)
    fan_level_min = serializers.IntegerField(min_value=0, max_value=4, default=2)


class ReservationOutput(serializers.Serializer):
    sale = serializers.IntegerField(source="sale_id")
    created_at = serializers.DateTimeField()


class ReminderOutput(serializers.Serializer):
    """The shopper's "remind me" of a sale: whether it is set, when the text goes out (the
    opening less REMINDER_LEAD_SECONDS), when it went (null until then)."""

    sale = serializers.IntegerField()
    reminded = serializers.BooleanField()
    remind_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)


class DrawOutput(serializers.Serializer):
    sale = serializers.IntegerField(source="sale_id")
    seed = serializers.CharField()
    entries = serializers.SerializerMethodField()
    winners = serializers.ListField(child=serializers.IntegerField())
    waitlist = serializers.ListField(child=serializers.IntegerField())
    run_at = serializers.DateTimeField()

    def get_entries(self, draw) -> int:
        return len(draw.entries)


MAX_ID = 2**63 - 1


def _integer(value, *, field: str, low: int, high: int | None, errors: dict) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors[field] = ["A valid integer is required."]
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip()) if value.strip().lstrip("-").isascii() else None
        except ValueError:
            value = None
        if value is None:
            errors[field] = ["A valid integer is required."]
            return None
    if value < low:
        errors[field] = [f"Ensure this value is greater than or equal to {low}."]
    elif high is not None and value > high:
        errors[field] = [f"Ensure this value is less than or equal to {high}."]
    return value


def purchase_input(data) -> dict:
    """PurchaseInput's rules, hand-rolled: on the hot path a DRF serializer costs more than the
    Redis decision itself. Same fields, limits and error details (a test keeps them equal)."""
    if not isinstance(data, dict):
        raise invalid("The request has invalid fields.",
                      non_field_errors=["Invalid data. Expected a dictionary."])
    errors: dict[str, list[str]] = {}
    quantity = _integer(data.get("quantity", 1), field="quantity", low=1, high=100,
                        errors=errors)
    address_id = data.get("address_id")
    if address_id is not None:
        address_id = _integer(address_id, field="address_id", low=1, high=MAX_ID,
                              errors=errors)
    fcode = data.get("fcode")
    if fcode is not None:
        if isinstance(fcode, bool) or not isinstance(fcode, str | int | float):
            errors["fcode"] = ["Not a valid string."]
        else:
            fcode = str(fcode).strip()
            if not fcode or len(fcode) > 32:
                errors["fcode"] = ["Enter an F-code of 1 to 32 characters."]
    if errors:
        raise invalid("The request has invalid fields.", **errors)
    return {"quantity": quantity, "address_id": address_id, "fcode": fcode}


class IssuedCodeOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    code = serializers.CharField()


class FCodeIssueOutput(serializers.Serializer):
    issued = serializers.IntegerField()
    codes = IssuedCodeOutput(many=True)


class DrawResultOutput(serializers.Serializer):
    drawn = serializers.BooleanField()
    entered = serializers.BooleanField()
    won = serializers.BooleanField()
    right_expires_at = serializers.DateTimeField(allow_null=True)
    used = serializers.BooleanField()
