"""Confirming the phone over HTTP: POST /api/v1/me/phone/code and /me/phone/confirm, their
statuses and envelope for good, malformed and hostile requests (docs/api.md)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shop import phones
from shop.models import Customer, PhoneCode
from shop.tests.fixtures import client_for

pytestmark = pytest.mark.django_db
SEND, CONFIRM = "/api/v1/me/phone/code", "/api/v1/me/phone/confirm"


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


def _code(outbox) -> str:
    return re.search(r"\b(\d{6})\b", outbox[-1].message).group(1)


def test_asking_for_a_code_texts_it_and_answers_when_it_lapses(api, customer, sms_outbox):
    response = api.post(SEND)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"sent_to", "expires_at", "resend_at"}
    assert body["sent_to"] == customer.phone[:3] + "****" + customer.phone[-4:]
    assert [sms.phone for sms in sms_outbox] == [customer.phone]
    assert _code(sms_outbox) not in json.dumps(body)  # the code goes by text only


def test_the_right_code_confirms_the_phone_and_me_says_when(api, customer, sms_outbox):
    api.post(SEND)
    response = api.post(CONFIRM, {"code": _code(sms_outbox)}, format="json")
    assert response.status_code == 200
    assert response.json()["phone"] == customer.phone
    assert api.get("/api/v1/me").json()["phone_verified_at"] == response.json()[
        "phone_verified_at"]
    error_of(api.post(CONFIRM, {"code": _code(sms_outbox)}, format="json"), 400, "invalid")
    assert error_of(api.post(SEND), 400, "invalid")["details"] == {
        "phone": ["already confirmed"]}


def test_asking_again_within_the_cool_down_is_429_with_retry_after(api, sms_outbox):
    api.post(SEND)
    response = api.post(SEND)
    error = error_of(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60 and error["details"]["retry_after"]
    assert len(sms_outbox) == 1


def test_five_wrong_codes_kill_it_and_the_right_one_no_longer_works(api, sms_outbox):
    api.post(SEND)
    right = _code(sms_outbox)
    wrong = "000000" if right != "000000" else "111111"
    left = [error_of(api.post(CONFIRM, {"code": wrong}, format="json"), 400, "invalid")
            ["details"]["tries_left"] for _ in range(5)]
    assert left == [4, 3, 2, 1, 0]
    error = error_of(api.post(CONFIRM, {"code": right}, format="json"), 400, "invalid")
    assert "code" in error["details"]
    assert Customer.objects.get().phone_verified_at is None


@pytest.mark.parametrize("body", [
    {}, {"code": ""}, {"code": "12345"}, {"code": "1234567"}, {"code": "12a456"},
    {"code": ["123456"]}, {"code": {"$ne": ""}}, {"code": None}, {"code": True},
    {"code": "１２３４５６"}, {"code": "123456\x00"}, {"code": "9" * 100_000},
])
def test_a_malformed_code_is_400_naming_code_and_costs_no_try(api, sms_outbox, body):
    api.post(SEND)
    error = error_of(api.post(CONFIRM, body, format="json"), 400, "invalid")
    assert "code" in error["details"]
    assert PhoneCode.objects.get().tries == 0


@pytest.mark.parametrize(("content", "content_type"), [
    ("{not json", "application/json"), ("[1, 2]", "application/json"),
    ('"123456"', "application/json"), ("code=123456", "text/plain"),
])
def test_a_body_that_is_not_a_json_object_is_refused_in_the_envelope(api, content,
                                                                     content_type):
    response = api.generic("POST", CONFIRM, content, content_type=content_type)
    assert response.status_code in (400, 415) and "error" in response.json()
    assert response.status_code != 500


def test_a_huge_body_is_refused_not_a_500(api):
    response = api.generic("POST", CONFIRM, json.dumps({"code": "1" * 5_000_000}),
                           content_type="application/json")
    assert 400 <= response.status_code < 500 and "error" in response.json()


def test_without_a_token_both_are_401(anon):
    error_of(anon.post(SEND), 401, "unauthenticated")
    error_of(anon.post(CONFIRM, {"code": "123456"}, format="json"), 401, "unauthenticated")


def test_a_bad_token_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    error_of(anon.post(SEND), 401, "unauthenticated")


def test_another_accounts_code_does_not_confirm_mine_nor_spend_theirs(make_customer, sms_outbox,
                                                                      monkeypatch):
    alice, bob = make_customer(), make_customer()
    alice_api, bob_api = client_for(alice.user), client_for(bob.user)
    drawn = iter([123456, 654321])  # two different codes, never left to chance
    monkeypatch.setattr(phones.secrets, "randbelow", lambda bound: next(drawn))
    alice_api.post(SEND)
    alices = _code(sms_outbox)
    bob_api.post(SEND)
    assert _code(sms_outbox) != alices
    error_of(bob_api.post(CONFIRM, {"code": alices}, format="json"), 400, "invalid")
    assert Customer.objects.get(pk=bob.pk).phone_verified_at is None
    assert alice_api.post(CONFIRM, {"code": alices}, format="json").status_code == 200


def test_confirming_before_any_code_was_sent_is_400(api):
    error = error_of(api.post(CONFIRM, {"code": "123456"}, format="json"), 400, "invalid")
    assert "code" in error["details"]


def test_an_account_without_a_customer_profile_is_404(superuser):
    staff = client_for(superuser)
    error_of(staff.post(SEND), 404, "not_found")
    error_of(staff.post(CONFIRM, {"code": "123456"}, format="json"), 404, "not_found")


def test_confirm_is_rate_limited_per_account(api, settings, sms_outbox):
    settings.RATE_PHONE_CONFIRM = "3/m"
    api.post(SEND)
    for _ in range(3):
        api.post(CONFIRM, {"code": "abc"}, format="json")
    response = api.post(CONFIRM, {"code": _code(sms_outbox)}, format="json")
    error_of(response, 429, "rate_limited")
    assert response["Retry-After"]


def test_sending_is_rate_limited_per_account_beyond_the_cool_down(api, settings, sms_outbox):
    settings.RATE_PHONE_CODE = "2/h"
    settings.PHONE_CODE_RESEND_SECONDS = 0
    assert [api.post(SEND).status_code for _ in range(3)] == [202, 202, 429]
    assert len(sms_outbox) == 2


def test_get_is_405_in_the_envelope(api):
    error_of(api.get(SEND), 405, "method_not_allowed")
    error_of(api.get(CONFIRM), 405, "method_not_allowed")


@settings(deadline=None)  # a shared, busy machine: no timing here
@given(a=st.integers(1, 10**6), b=st.integers(1, 10**6),
       code=st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_a_digest_is_bound_to_its_account(a, b, code):
    """Stored for one account, a code's digest is worth nothing on another one."""
    if a != b:
        assert (phones.code_digest(customer_id=a, phone="13800000001", code=code)
                != phones.code_digest(customer_id=b, phone="13800000001", code=code))
