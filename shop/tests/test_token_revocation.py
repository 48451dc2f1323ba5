"""Refresh tokens rotate, are good once, and die with the password they were issued under."""

from __future__ import annotations

import pytest

from core.tests.helpers import assert_envelope

PASSWORD = "correct-horse-battery"


@pytest.fixture
def pair(anon, customer):
    response = anon.post("/api/v1/auth/token", {"username": customer.user.username,
                                                "password": PASSWORD}, format="json")
    assert response.status_code == 200
    return response.json()


def refresh(anon, token: str):
    return anon.post("/api/v1/auth/token/refresh", {"refresh": token}, format="json")


def test_a_refresh_hands_out_a_new_refresh_token(anon, pair):
    body = refresh(anon, pair["refresh"]).json()
    assert body["access"] and body["refresh"] and body["refresh"] != pair["refresh"]
    assert refresh(anon, body["refresh"]).status_code == 200


def test_a_used_refresh_token_cannot_be_used_again(anon, pair):
    assert refresh(anon, pair["refresh"]).status_code == 200
    assert_envelope(refresh(anon, pair["refresh"]), 401, "unauthenticated")


def test_changing_the_password_revokes_every_refresh_token_issued_before(anon, customer, pair):
    user = customer.user
    user.set_password("a-brand-new-passphrase")
    user.save()
    assert_envelope(refresh(anon, pair["refresh"]), 401, "unauthenticated")
    again = anon.post("/api/v1/auth/token", {"username": user.username,
                                             "password": "a-brand-new-passphrase"}, format="json")
    assert refresh(anon, again.json()["refresh"]).status_code == 200


def test_a_deactivated_account_cannot_refresh(anon, customer, pair):
    customer.user.is_active = False
    customer.user.save()
    assert_envelope(refresh(anon, pair["refresh"]), 401, "unauthenticated")


def test_the_password_stamp_stays_out_of_the_access_token(anon, pair):
    from rest_framework_simplejwt.tokens import AccessToken

    from shop.tokens import PASSWORD_CLAIM
    assert PASSWORD_CLAIM not in AccessToken(pair["access"]).payload
