"""A blacklisted account is refused beside the gate as at it: no reservation, no draw entry,
no purchase right; the refusal is the purchase's own `blocked` (403, with how to appeal)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from antiscalper import services as lists
from core.errors import DomainError
from sales.models import FCode, Reservation
from sales.modes import draws, reservations
from sales.modes.tests.draw_helpers import enter
from shop.tests.fixtures import client_for

pytestmark = pytest.mark.django_db


def _refused_blocked(response) -> None:
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (403, "blocked")
    assert "appeal" in error["details"]


def test_a_blacklisted_account_cannot_reserve(reservation_sale, api, customer):  # noqa: F811
    sale = reservation_sale()
    lists.blacklist_add(kind="account", value=str(customer.user_id), reason="scalper ring")
    _refused_blocked(api.post(f"/api/v1/sales/{sale.pk}/reservations"))
    assert not Reservation.objects.filter(sale=sale).exists()


def test_a_blacklisted_device_cannot_reserve_either(reservation_sale, api):  # noqa: F811
    sale = reservation_sale()
    lists.blacklist_add(kind="device", value="bot-farm-1")
    _refused_blocked(api.post(f"/api/v1/sales/{sale.pk}/reservations",
                              HTTP_X_DEVICE_ID="bot-farm-1"))


def test_an_allowlisted_account_reserves_as_usual(reservation_sale, api, customer):  # noqa: F811
    sale = reservation_sale()
    lists.blacklist_add(kind="account", value=str(customer.user_id))
    lists.allowlist_add(kind="account", value=str(customer.user_id), reason="appeal upheld")
    assert api.post(f"/api/v1/sales/{sale.pk}/reservations").status_code == 201


def test_a_blacklisted_account_cannot_enter_a_draw(draw_sale, customer):
    sale = draw_sale(closes_in=3600)
    lists.blacklist_add(kind="account", value=str(customer.user_id))
    response = client_for(customer.user).post(f"/api/v1/sales/{sale.pk}/reservations")
    _refused_blocked(response)
    with pytest.raises(DomainError) as refused:
        reservations.reservation_create(sale_id=sale.pk, user_id=customer.user_id,
                                        now=timezone.now())
    assert refused.value.code == "blocked"


def test_an_entrant_blacklisted_before_the_draw_is_not_drawn(draw_sale, buyer_ids):
    sale = draw_sale(stock=3)
    users = buyer_ids(3)
    enter(sale, users)
    lists.blacklist_add(kind="account", value=str(users[0]))
    draw = draws.draw_run(sale_id=sale.pk, seed="fixed")
    assert users[0] not in draw.winners and users[0] not in draw.waitlist
    assert users[0] not in [entry[1] for entry in draw.entries]
    assert not FCode.objects.filter(sale=sale, user_id=users[0]).exists()


def test_a_waitlisted_entrant_blacklisted_after_the_draw_gets_no_passed_on_right(
        draw_sale, buyer_ids):
    sale = draw_sale(stock=1)
    users = buyer_ids(3)
    enter(sale, users)
    draw = draws.draw_run(sale_id=sale.pk, seed="fixed")
    (winner,) = draw.winners
    first_in_line, second_in_line = draw.waitlist
    lists.blacklist_add(kind="account", value=str(first_in_line))
    FCode.objects.filter(sale=sale, user_id=winner).update(expires_at=timezone.now())
    assert draws.draw_rights_pass_on(sale_id=sale.pk) == 1
    assert not FCode.objects.filter(sale=sale, user_id=first_in_line).exists()
    assert FCode.objects.filter(sale=sale, user_id=second_in_line).exists()
