"""Reservations (预约): a window, one per account, loaded into the gate before the sale opens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from core.errors import DomainError
from sales import services
from sales.gate import keys as gate_keys
from sales.gate.admission import Purchase
from sales.models import Reservation
from sales.modes import reservations
from sales.pipeline import orders as pipeline


def test_reserving_answers_201_then_200_and_keeps_one_reservation(reservation_sale, api):
    sale = reservation_sale()
    url = f"/api/v1/sales/{sale.pk}/reservations"
    assert api.post(url).status_code == 201
    assert api.post(url).status_code == 200
    assert Reservation.objects.filter(sale=sale).count() == 1


@pytest.mark.parametrize("opens_in, closes_in", [(600, 3600), (-3600, -60)])
def test_reserving_outside_the_window_is_refused_with_the_window(reservation_sale, api,
                                                                  opens_in, closes_in):
    sale = reservation_sale(opens_in=opens_in, closes_in=closes_in)
    response = api.post(f"/api/v1/sales/{sale.pk}/reservations")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "reservation_closed"
    assert set(error["details"]) == {"reservation_opens_at", "reservation_closes_at"}


def test_reserving_an_unknown_sale_is_not_found(api, db):
    assert api.post("/api/v1/sales/424242/reservations").status_code == 404


def test_reservers_are_loaded_into_the_gate_and_only_they_may_buy(reservation_sale, buyer_ids):
    sale = reservation_sale(closes_in=1)
    reserver, stranger = buyer_ids(2)
    reservations.reservation_create(sale_id=sale.pk, user_id=reserver)
    services.gate_load(sale_id=sale.pk)
    opened = sale.starts_at + timedelta(seconds=1)

    assert services.purchase_admit(purchase=Purchase(
        sale_id=sale.pk, user_id=reserver), now=opened).ticket
    with pytest.raises(DomainError) as refused:
        services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=stranger), now=opened)
    assert refused.value.code == "reservation_required"


@pytest.mark.django_db(transaction=True)
def test_a_reservation_made_after_the_gate_loaded_reaches_it_at_once(reservation_sale,
                                                                     buyer_ids):
    sale = reservation_sale()
    services.gate_load(sale_id=sale.pk)
    [user] = buyer_ids(1)
    reservations.reservation_create(sale_id=sale.pk, user_id=user)
    assert gate_keys.connection().sismember(gate_keys.SaleKeys(sale.pk).reservers, user)


def test_reservers_survive_a_redis_loss_through_the_rebuild(reservation_sale, buyer_ids,
                                                             redis_client):
    sale = reservation_sale(closes_in=1)
    [user] = buyer_ids(1)
    reservations.reservation_create(sale_id=sale.pk, user_id=user)
    services.gate_load(sale_id=sale.pk)
    redis_client.flushdb()
    services.gate_rebuild(sale_id=sale.pk)
    opened = sale.starts_at + timedelta(seconds=1)
    assert services.purchase_admit(purchase=Purchase(
        sale_id=sale.pk, user_id=user), now=opened).ticket
    pipeline.drain(sale_id=sale.pk)


def test_the_sale_admin_shows_reservation_counts(reservation_sale, buyer_ids, client):
    sale = reservation_sale()
    for user in buyer_ids(3):
        reservations.reservation_create(sale_id=sale.pk, user_id=user)
    admin = get_user_model().objects.create_superuser("root", password="x-Long-pass-1")
    client.force_login(admin)
    page = client.get("/admin/sales/flashsale/")
    assert page.status_code == 200
    assert b'<td class="field-reservation_count">3</td>' in page.content
