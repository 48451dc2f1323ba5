"""The admin's sale form as a browser posts it (every field, hidden ones too), for the admin
tests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone


def split(moment) -> tuple[str, str]:
    local = timezone.localtime(moment)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")


def sale_form(sku, **overrides) -> dict:
    """An open rush opening in an hour, for an hour; `overrides` in the form's own names."""
    now = timezone.now()
    starts, ends = split(now + timedelta(hours=1)), split(now + timedelta(hours=2))
    data = {"sku": sku.pk, "title": "Mi 9 batch 2", "price": "2999.00", "stock": 10,
            "per_user_limit": 1, "payment_window": "00:30:00", "mode": "open",
            "fcode_quota": 0, "deposit_expansion": "0", "deposit_window": "00:30:00",
            "right_window": "00:30:00",
            "starts_at_0": starts[0], "starts_at_1": starts[1],
            "ends_at_0": ends[0], "ends_at_1": ends[1]}
    return {**data, **overrides}
