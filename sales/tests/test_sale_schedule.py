"""Scheduling a sale: one inside the preload lead opens with its gate, and a deposit sale's
balance window leaves every deposit payer time to pay the balance (issue 13, points 7-8)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import DomainError
from sales import services
from sales.gate.admission import Purchase
from sales.models import FlashSale
from shop.tests.fixtures import client_for


def _sale(sku, *, starts_in: float, **extra) -> dict:
    now = timezone.now()
    return {"sku": sku, "title": "Mi 6 launch", "price": Decimal("1999.00"), "stock": 10,
            "per_user_limit": 1, "starts_at": now + timedelta(seconds=starts_in),
            "ends_at": now + timedelta(seconds=starts_in + 3600), **extra}


def test_a_sale_created_one_and_a_half_seconds_ahead_sells_at_its_first_second(
        sku, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sale = services.sale_create(**_sale(sku, starts_in=-0.5))  # its first second, now
    admission = services.purchase_admit(purchase=Purchase(
        sale_id=sale.pk, user_id=customer.user_id))
    assert admission.ticket
    sale.refresh_from_db()
    assert sale.gate_loaded_at is not None


def test_a_sale_created_through_the_api_inside_the_lead_has_its_gate(
        sku, superuser_api, django_capture_on_commit_callbacks):
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_api.post("/api/v1/ops/sales", {
            "sku": sku.pk, "title": "soon", "price": "10.00", "stock": 3,
            "starts_at": (now + timedelta(seconds=1.5)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat()}, format="json")
    assert response.status_code == 201, response.content
    assert FlashSale.objects.get(pk=response.json()["id"]).gate_loaded_at is not None


def test_moving_a_sale_into_the_lead_loads_its_gate(sku, django_capture_on_commit_callbacks,
                                                   settings):
    sale = services.sale_create(**_sale(sku, starts_in=settings.GATE_PRELOAD_LEAD_SECONDS + 600))
    assert sale.gate_loaded_at is None
    with django_capture_on_commit_callbacks(execute=True):
        services.sale_update(sale_id=sale.pk, starts_at=timezone.now() + timedelta(seconds=2))
    sale.refresh_from_db()
    assert sale.gate_loaded_at is not None


def test_a_sale_beyond_the_lead_waits_for_the_preloader(sku, django_capture_on_commit_callbacks,
                                                       settings):
    with django_capture_on_commit_callbacks(execute=True):
        sale = services.sale_create(
            **_sale(sku, starts_in=settings.GATE_PRELOAD_LEAD_SECONDS + 60))
    sale.refresh_from_db()
    assert sale.gate_loaded_at is None


def _deposit(sku, **windows) -> dict:
    now = timezone.now()
    return _sale(sku, starts_in=0, mode="deposit", deposit=Decimal("100.00"),
                 deposit_window=timedelta(minutes=30), **{
                     "balance_opens_at": now + timedelta(hours=2),
                     "balance_closes_at": now + timedelta(hours=3), **windows})


@pytest.mark.parametrize("windows, field", [
    # the sale ends in 1 h, deposits are due up to 30 min later: closing at 1 h 20 forfeits
    ({"balance_opens_at": timedelta(minutes=10), "balance_closes_at": timedelta(minutes=80)},
     "balance_closes_at"),
    ({"balance_opens_at": timedelta(minutes=10), "balance_closes_at": timedelta(minutes=90)},
     "balance_closes_at"),
    ({"balance_opens_at": -timedelta(minutes=5), "balance_closes_at": None}, "balance_opens_at"),
], ids=["closes-before-the-last-deposit-deadline", "closes-at-it", "opens-before-the-sale"])
def test_a_deposit_sale_whose_balance_window_would_forfeit_a_paid_deposit_is_refused(
        sku, windows, field):
    now = timezone.now()
    given = {name: now + delta for name, delta in windows.items() if delta is not None}
    with pytest.raises(DomainError) as refused:
        services.sale_create(**_deposit(sku, **given))
    assert refused.value.code == "invalid"
    assert field in refused.value.details
    assert not FlashSale.objects.exists()


def test_a_balance_window_right_after_the_last_deposit_deadline_is_accepted(sku):
    now = timezone.now()
    sale = services.sale_create(**_deposit(sku, balance_opens_at=now + timedelta(minutes=1),
                                           balance_closes_at=now + timedelta(minutes=91)))
    assert sale.mode == "deposit"


def test_editing_a_deposit_window_past_the_balance_close_is_refused_with_the_field(
        sku, superuser_api):
    sale = services.sale_create(**_deposit(sku))
    response = superuser_api.patch(f"/api/v1/ops/sales/{sale.pk}",
                                   {"deposit_window_seconds": 3 * 3600}, format="json")
    assert response.status_code == 400, response.content
    assert "balance_closes_at" in response.json()["error"]["details"]


@pytest.fixture
def superuser_api(superuser):
    return client_for(superuser)


@pytest.fixture
def superuser(db):
    from django.contrib.auth import get_user_model
    return get_user_model().objects.create_superuser("boss", password="ops-password-123")


def test_the_ops_sale_list_is_windowed_like_every_other_list(superuser_api, make_sale):
    """docs/api.md "Lists": ?limit= and &offset= window it, X-Total-Count counts it, a limit
    that is not an integer is 400."""
    made = sorted(make_sale(load=False).pk for _ in range(3))
    page = superuser_api.get("/api/v1/ops/sales?limit=1&offset=1")
    assert (page.status_code, page["X-Total-Count"]) == (200, "3")
    assert [sale["id"] for sale in page.json()] == made[1:2]
    assert superuser_api.get("/api/v1/ops/sales?limit=abc").status_code == 400

