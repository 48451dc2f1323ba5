"""Reading sales, and ops scheduling and editing them (live sales stay consistent)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from core.tests.helpers import assert_envelope
from sales import services
from sales.gate import holdings
from sales.gate.admission import Purchase
from sales.models import FlashSale
from sales.pipeline import orders as pipeline
from shop.models import Order
from shop.tests.fixtures import client_for


@pytest.fixture
def ops(db):
    user = get_user_model().objects.create_user("opsy", password="x-Long-password-1",
                                                is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=[
        "view_flashsale", "add_flashsale", "change_flashsale"]))
    return client_for(user)


def sale_body(sku, **overrides) -> dict:
    now = timezone.now()
    body = {"sku": sku.pk, "title": "Mi 9 first batch", "price": "2999.00", "stock": 50,
            "starts_at": (now + timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(), "per_user_limit": 1}
    return {**body, **overrides}


def test_the_sale_representation_has_every_field_of_the_contract(anon, live_sale):
    [row] = anon.get("/api/v1/sales").json()
    assert set(row) >= {"id", "title", "sku", "price", "starts_at", "ends_at", "status",
                        "stock_left", "per_user_limit", "mode", "reservation_opens_at",
                        "reservation_closes_at", "deposit", "payment_window_seconds"}
    assert (row["status"], row["stock_left"], row["payment_window_seconds"]) == (
        "live", 100, 1800)


@pytest.mark.parametrize("starts_in, stock, status", [
    (600, 10, "scheduled"), (-10, 10, "live"), (-10, 0, "sold_out"), (-7200, 10, "ended"),
])
def test_the_status_is_derived_from_time_and_stock(anon, make_sale, starts_in, stock, status):
    sale = make_sale(starts_in=starts_in, stock=stock, lasts=3600)
    assert anon.get(f"/api/v1/sales/{sale.pk}").json()["status"] == status


def test_stock_left_follows_the_gate(anon, make_sale, buyer_ids):
    sale = make_sale(stock=3)
    for user in buyer_ids(3):
        services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=user))
    answer = anon.get(f"/api/v1/sales/{sale.pk}").json()
    assert (answer["stock_left"], answer["status"]) == (0, "sold_out")


def test_ops_schedule_a_sale_and_beat_loads_it_before_it_opens(ops, sku, settings):
    response = ops.post("/api/v1/ops/sales", sale_body(sku), format="json")
    assert response.status_code == 201
    sale_id = response.json()["id"]
    settings.GATE_PRELOAD_LEAD_SECONDS = 60
    assert services.gates_preload() == []
    settings.GATE_PRELOAD_LEAD_SECONDS = 600
    assert services.gates_preload() == [sale_id]
    assert holdings.stock_left(sale_id=sale_id) == 50


def test_ops_input_errors_name_the_fields(ops, sku):
    response = ops.post("/api/v1/ops/sales", sale_body(sku, price="-1", stock="x"),
                        format="json")
    assert response.status_code == 400
    assert {"price", "stock"} <= set(response.json()["error"]["details"])
    ends_first = sale_body(sku, ends_at=timezone.now().isoformat())
    response = ops.post("/api/v1/ops/sales", ends_first, format="json")
    assert response.json()["error"]["details"] == {"ends_at": ["must be after starts_at"]}


def test_ops_split_a_sale_into_1_to_16_shards(ops, sku):
    for wrong in (0, 17, "many"):
        response = ops.post("/api/v1/ops/sales", sale_body(sku, shards=wrong), format="json")
        assert list(assert_envelope(response, 400, "invalid")["details"]) == ["shards"]
    response = ops.post("/api/v1/ops/sales", sale_body(sku, shards=3), format="json")
    assert response.status_code == 201
    assert FlashSale.objects.get(pk=response.json()["id"]).shards == 3


def test_shoppers_cannot_use_ops_endpoints(api, sku):
    response = api.post("/api/v1/ops/sales", sale_body(sku), format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")


def test_a_live_sale_keeps_price_and_start_but_its_stock_moves_with_the_gate(ops, live_sale,
                                                                              buyer_ids):
    for user in buyer_ids(30):
        services.purchase_admit(purchase=Purchase(sale_id=live_sale.pk, user_id=user))
    pipeline.drain(sale_id=live_sale.pk)
    url = f"/api/v1/ops/sales/{live_sale.pk}"

    response = ops.patch(url, {"price": "1.00"}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "sale_locked")
    response = ops.patch(url, {"stock": 20}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "stock_sold")
    assert FlashSale.objects.get(pk=live_sale.pk).stock == 100

    response = ops.patch(url, {"stock": 120, "title": "Mi 6, second batch"}, format="json")
    assert response.status_code == 200
    assert (response.json()["stock_left"], response.json()["title"]) == (90, "Mi 6, second batch")
    response = ops.patch(url, {"stock": 30}, format="json")
    assert response.json()["stock_left"] == 0


def test_patching_an_unknown_sale_is_not_found(ops, db):
    assert ops.patch("/api/v1/ops/sales/99999", {"title": "x"}, format="json").status_code == 404


def test_a_live_draw_sale_counts_its_winners_units_as_left(anon, make_sale):
    now = timezone.now()
    sale = make_sale(mode="draw", stock=5, reservation_opens_at=now - timedelta(days=2),
                     reservation_closes_at=now - timedelta(days=1))
    answer = anon.get(f"/api/v1/sales/{sale.pk}").json()
    assert (answer["status"], answer["stock_left"]) == ("live", 5)


@pytest.mark.django_db(transaction=True)
def test_the_ops_report_counts_what_sold_expired_and_was_rejected(ops, make_sale, buyer_ids):
    sale = make_sale(stock=3)
    users = buyer_ids(5)
    for user in users[:3]:
        services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=user))
    pipeline.drain(sale_id=sale.pk)
    order = Order.objects.filter(sale_id=sale.pk).first()
    services.orders_expire_due(now=order.payment_due_at + timedelta(seconds=1))
    response = ops.get(f"/api/v1/ops/sales/{sale.pk}/report")
    assert response.status_code == 200
    report = response.json()
    assert (report["stock"], report["units_held"], report["oversold"]) == (3, 0, 0)
    assert report["orders_by_status"] == {"expired": 3}
    assert (report["units_returned"], report["stock_left"]) == (3, 3)


def test_shoppers_cannot_read_the_ops_report(api, live_sale):
    assert api.get(f"/api/v1/ops/sales/{live_sale.pk}/report").status_code == 403
