"""Sales fixtures: sales with loaded gates on the real Redis, and many real buyers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from sales import gate, services, web
from sales.models import FlashSale
from shop.seeding import seed_customers, username_for


@pytest.fixture(autouse=True)
def _clean_memo():
    gate.sold_out_memo_clear()
    gate._memo_attempts.clear()
    web._live_memo.clear()
    yield
    gate.sold_out_memo_clear()
    gate._memo_attempts.clear()
    web._live_memo.clear()


@pytest.fixture
def make_sale(sku):
    def make(*, stock: int = 100, limit: int = 1, starts_in: float = -1, lasts: float = 3600,
             load: bool = True, **extra) -> FlashSale:
        now = timezone.now()
        sale = services.sale_create(
            sku=sku, title="Mi 6 launch", price=Decimal("1999.00"), stock=stock,
            per_user_limit=limit, starts_at=now + timedelta(seconds=starts_in),
            ends_at=now + timedelta(seconds=starts_in + lasts), **extra,
        )
        if load:
            services.gate_load(sale_id=sale.pk)
            sale.refresh_from_db()
        return sale
    return make


@pytest.fixture
def live_sale(make_sale) -> FlashSale:
    return make_sale()


@pytest.fixture
def buyer_ids(db):
    """user ids of N seeded customers (bulk-inserted, with addresses)."""
    def make(count: int, start: int = 1) -> list[int]:
        seed_customers(count=count, start=start)
        names = [username_for(i) for i in range(start, start + count)]
        return list(get_user_model().objects.filter(username__in=names)
                    .order_by("pk").values_list("pk", flat=True))
    return make


@pytest.fixture
def draw_sale(make_sale):
    """A live draw sale whose entries closed a minute ago (or in `closes_in` seconds)."""
    def make(*, stock: int = 2, closes_in: float = -60, load: bool = False, **extra):
        now = timezone.now()
        return make_sale(stock=stock, mode="draw", load=load, lasts=3 * 3600,
                         reservation_opens_at=now - timedelta(hours=2),
                         reservation_closes_at=now + timedelta(seconds=closes_in), **extra)
    return make
