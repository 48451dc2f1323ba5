"""Sale lists put live and upcoming sales first: 201 past sales never hide a live one."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from sales.models import FlashSale


@pytest.fixture
def crowded(sku):
    """201 ended sales (created first, so they are the oldest), one live, one upcoming."""
    now = timezone.now()
    past = [FlashSale(sku=sku, title=f"past {i}", price=Decimal("10.00"), stock=1,
                      starts_at=now - timedelta(days=400 - i, hours=1),
                      ends_at=now - timedelta(days=400 - i)) for i in range(201)]
    FlashSale.objects.bulk_create(past)
    live = FlashSale.objects.create(sku=sku, title="live now", price=Decimal("10.00"), stock=5,
                                    starts_at=now - timedelta(minutes=5),
                                    ends_at=now + timedelta(hours=1))
    soon = FlashSale.objects.create(sku=sku, title="tomorrow", price=Decimal("10.00"), stock=5,
                                    starts_at=now + timedelta(days=1),
                                    ends_at=now + timedelta(days=1, hours=1))
    return live, soon


def test_the_api_lists_live_then_upcoming_then_the_latest_ended(anon, crowded):
    live, soon = crowded
    response = anon.get("/api/v1/sales")
    assert response.status_code == 200
    ids = [sale["id"] for sale in response.json()]
    assert ids[:2] == [live.pk, soon.pk]
    assert response.json()[2]["title"] == "past 200"
    assert response["X-Total-Count"] == "203"


def test_the_api_sale_list_is_windowed(anon, crowded):
    page = anon.get("/api/v1/sales?limit=2&offset=202").json()
    assert [sale["title"] for sale in page] == ["past 0"]


def test_the_storefront_shows_the_live_sale_among_201_past_ones(crowded):
    html = Client().get("/").content.decode()
    assert "live now" in html and "tomorrow" in html


def test_the_storefront_pages_through_many_upcoming_sales(sku, settings):
    now = timezone.now()
    FlashSale.objects.bulk_create(
        FlashSale(sku=sku, title=f"upcoming {i:03d}", price=Decimal("10.00"), stock=1,
                  starts_at=now + timedelta(days=1, minutes=i),
                  ends_at=now + timedelta(days=2)) for i in range(60))
    first = Client().get("/").content.decode()
    second = Client().get("/?page=2").content.decode()
    assert "upcoming 049" in first and "upcoming 050" not in first and "?page=2" in first
    assert "upcoming 050" in second and "upcoming 059" in second
    assert Client().get("/?page=\u00b2").status_code == 200
