"""Ops schedule and edit sales in admin through the same checks as the API."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from sales.models import FlashSale
from sales.tests.sale_forms import sale_form as form


@pytest.fixture
def ops_client(client, db):
    admin = get_user_model().objects.create_superuser("boss", password="x-Long-pass-1")
    client.force_login(admin)
    return client


def test_ops_schedule_a_sale_in_admin(ops_client, sku):
    response = ops_client.post("/admin/sales/flashsale/add/", form(sku))
    assert response.status_code == 302
    assert FlashSale.objects.get().title == "Mi 9 batch 2"


def test_a_bad_sale_is_refused_on_the_form_not_with_a_crash(ops_client, sku):
    response = ops_client.post("/admin/sales/flashsale/add/",
                               form(sku, mode="deposit", deposit=""))
    assert response.status_code == 200
    assert b"deposit pre-sale needs a deposit" in response.content
    assert not FlashSale.objects.exists()


def test_a_sale_splits_into_1_to_16_shards_in_admin(ops_client, sku):
    response = ops_client.post("/admin/sales/flashsale/add/", form(sku, shards="17"))
    assert response.status_code == 200 and b'id="id_shards_error"' in response.content
    assert not FlashSale.objects.exists()
    response = ops_client.post("/admin/sales/flashsale/add/", form(sku, shards="3"))
    assert response.status_code == 302 and FlashSale.objects.get().shards == 3


def test_a_loaded_sale_keeps_its_price_in_admin(ops_client, live_sale, sku):
    local = timezone.localtime
    data = form(sku, price="1.00", title=live_sale.title, stock=live_sale.stock,
                starts_at_0=local(live_sale.starts_at).strftime("%Y-%m-%d"),
                starts_at_1=local(live_sale.starts_at).strftime("%H:%M:%S"),
                ends_at_0=local(live_sale.ends_at).strftime("%Y-%m-%d"),
                ends_at_1=local(live_sale.ends_at).strftime("%H:%M:%S"))
    response = ops_client.post(f"/admin/sales/flashsale/{live_sale.pk}/change/", data)
    assert response.status_code == 200
    assert b"cannot change once the sale" in response.content
    assert b'id="id_price_error"' in response.content
    assert b'id="id_starts_at_error"' not in response.content
    live_sale.refresh_from_db()
    assert str(live_sale.price) == "1999.00"
    data["price"], data["title"] = "1999.00", "Mi 6, renamed live"
    url = f"/admin/sales/flashsale/{live_sale.pk}/change/"
    assert ops_client.post(url, data).status_code == 302
    live_sale.refresh_from_db()
    assert live_sale.title == "Mi 6, renamed live"
