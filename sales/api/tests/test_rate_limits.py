"""Rate limits answer 429 `rate_limited` with Retry-After, in the error envelope."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from shop.tests.fixtures import client_for


def assert_limited(response) -> None:
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0


def test_registering_is_limited_per_client_ip(anon, db, settings):
    settings.RATE_REGISTER = "2/m"
    for n in range(2):
        body = {"username": f"newfan{n}", "password": "correct-horse-9", "phone": f"1391111000{n}"}
        assert anon.post("/api/v1/auth/register", body, format="json").status_code == 201
    assert_limited(anon.post("/api/v1/auth/register", {"username": "x", "password": "y",
                                                       "phone": "1"}, format="json"))


def test_token_requests_are_limited_per_client_ip(anon, customer, settings):
    settings.RATE_TOKEN = "3/m"
    body = {"username": customer.user.username, "password": "wrong-password"}
    for _ in range(3):
        assert anon.post("/api/v1/auth/token", body, format="json").status_code == 401
    assert_limited(anon.post("/api/v1/auth/token", body, format="json"))


def test_reservations_are_limited_per_account(make_sale, api, settings):
    settings.RATE_RESERVATION = "2/m"
    now = timezone.now()
    sale = make_sale(mode="reservation", starts_in=3600, load=False,
                     reservation_opens_at=now - timedelta(hours=1),
                     reservation_closes_at=now + timedelta(minutes=30))
    url = f"/api/v1/sales/{sale.pk}/reservations"
    assert [api.post(url).status_code for _ in range(2)] == [201, 200]
    assert_limited(api.post(url))


def test_purchase_attempts_are_limited_per_account_inside_the_gate(make_sale, make_customer,
                                                                   settings):
    settings.PURCHASE_RATE_LIMIT = 3
    sale = make_sale(limit=1)
    hammer = client_for(make_customer().user)
    url = f"/api/v1/sales/{sale.pk}/purchase"
    codes = [hammer.post(url, {}, format="json").status_code for _ in range(3)]
    assert codes == [202, 409, 409]
    assert_limited(hammer.post(url, {}, format="json"))
    calm = client_for(make_customer().user)
    assert calm.post(url, {}, format="json").status_code == 202
