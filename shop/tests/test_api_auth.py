"""Registration, tokens and the shopper's own profile and addresses over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from shop.models import Customer
from shop.tests.helpers import bearer_client

User = get_user_model()
PASSWORD = "correct-horse-battery"  # the root conftest's shoppers' password


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_registering_answers_201_with_the_new_id_and_username(anon, db):
    response = anon.post("/api/v1/auth/register", {
        "username": "leijun", "password": "are-you-ok-2014", "phone": "138 0013 8000",
    }, format="json")
    assert response.status_code == 201
    customer = Customer.objects.get()
    assert response.json() == {"id": customer.user_id, "username": "leijun"}
    assert customer.phone == "13800138000"


@pytest.mark.parametrize(("body", "fields"), [
    ({}, {"username", "password", "phone"}),
    ({"username": "a b", "password": "are-you-ok-2014", "phone": "13800138000"}, {"username"}),
    ({"username": "leijun", "password": "short", "phone": "13800138000"}, {"password"}),
    ({"username": "leijun", "password": "password123", "phone": "13800138000"}, {"password"}),
    ({"username": "leijun", "password": "are-you-ok-2014", "phone": "hello"}, {"phone"}),
])
def test_an_invalid_registration_is_400_naming_the_fields(anon, db, body, fields):
    response = anon.post("/api/v1/auth/register", body, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert set(error["details"]) == fields
    assert not User.objects.exists()


def test_registering_a_taken_username_or_phone_is_400(anon, customer):
    for body, field in [
        ({"username": customer.user.username.upper(), "phone": "13911112222"}, "username"),
        ({"username": "newcomer", "phone": customer.phone}, "phone"),
    ]:
        response = anon.post("/api/v1/auth/register", {**body, "password": "are-you-ok-2014"},
                             format="json")
        assert response.status_code == 400
        assert field in error_of(response)["details"]
    assert User.objects.count() == 1


def test_a_shopper_logs_in_refreshes_and_uses_the_token(anon, customer):
    response = anon.post("/api/v1/auth/token", {"username": customer.user.username,
                                                "password": PASSWORD}, format="json")
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    refreshed = anon.post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]},
                          format="json")
    assert refreshed.status_code == 200
    access = refreshed.json()["access"]
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    me = anon.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == customer.user.username


def test_a_blank_password_is_400_naming_the_field(anon, customer):
    response = anon.post("/api/v1/auth/token", {"username": customer.user.username,
                                                "password": ""}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], set(error["details"])) == ("invalid", {"password"})


def test_a_wrong_password_is_401_unauthenticated(anon, customer):
    response = anon.post("/api/v1/auth/token", {"username": customer.user.username,
                                                "password": "not-the-password"}, format="json")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthenticated"


def test_a_bad_refresh_token_is_401(anon, customer):
    access = str(AccessToken.for_user(customer.user))
    for refresh in ["garbage", access]:
        response = anon.post("/api/v1/auth/token/refresh", {"refresh": refresh}, format="json")
        assert response.status_code == 401
        assert error_of(response)["code"] == "unauthenticated"


def test_me_shows_the_profile_of_the_token_holder(api, customer):
    body = api.get("/api/v1/me").json()
    assert body["id"] == customer.user_id
    assert body["username"] == customer.user.username
    assert body["phone"] == customer.phone
    assert (body["fan_level"], body["fan_level_name"]) == (0, "Lv0 newcomer")


def _expired_access(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=1))
    return str(token)


@pytest.mark.parametrize("header", [
    None, "Bearer", "Bearer not.a.token", "Token abc", "expired", "refresh-as-access",
])
def test_a_missing_or_bad_token_is_401_with_the_envelope(anon, customer, header):
    if header == "expired":
        header = f"Bearer {_expired_access(customer.user)}"
    elif header == "refresh-as-access":
        header = f"Bearer {RefreshToken.for_user(customer.user)}"
    if header:
        anon.credentials(HTTP_AUTHORIZATION=header)
    for path in ["/api/v1/me", "/api/v1/orders", "/api/v1/me/addresses"]:
        response = anon.get(path)
        assert response.status_code == 401, (path, header)
        assert error_of(response)["code"] == "unauthenticated"
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_access_token_is_verified_without_touching_the_database(customer,
                                                                   django_assert_num_queries):
    token = AccessToken.for_user(customer.user)
    request = APIRequestFactory().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    authenticators = [cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES]
    assert [type(a) for a in authenticators] == [JWTStatelessUserAuthentication]
    with django_assert_num_queries(0):
        user, validated = authenticators[0].authenticate(request)
    assert int(user.id) == customer.user_id
    assert validated["jti"] == token["jti"]


def test_a_staff_user_without_a_shopper_profile_gets_404_on_me(db):
    staff = User.objects.create_user(username="ops", password="x", is_staff=True)
    response = bearer_client(staff).get("/api/v1/me")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_shopper_adds_and_lists_their_addresses(api, customer, make_customer):
    make_customer()  # someone else's address must not show up
    response = api.post("/api/v1/me/addresses", {
        "recipient": "Lei Jun", "phone": "138-0013-8009", "line1": "68 Qinghe Middle St",
        "city": "Beijing", "postcode": "100085",
    }, format="json")
    assert response.status_code == 201
    created = response.json()
    assert created["phone"] == "13800138009"
    listed = api.get("/api/v1/me/addresses")
    assert listed.status_code == 200
    assert listed["X-Total-Count"] == "2"
    assert [a["id"] for a in listed.json()] == [customer.addresses.first().id, created["id"]]


def test_an_address_missing_fields_is_400_naming_them(api, customer):
    response = api.post("/api/v1/me/addresses", {"recipient": "Lei Jun", "phone": "12"},
                        format="json")
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"line1", "city", "postcode"}
    assert customer.addresses.count() == 1


def test_an_address_with_a_bad_phone_is_400_naming_the_phone(api, customer):
    response = api.post("/api/v1/me/addresses", {
        "recipient": "Lei Jun", "phone": "call me", "line1": "1 Road", "city": "Beijing",
        "postcode": "100085",
    }, format="json")
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"phone"}
