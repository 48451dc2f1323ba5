"""The rush path's token check never accepts what simplejwt refuses, and accepts the store's
own access tokens: checked against simplejwt's answer on issued tokens, on tokens with every
claim and header varied and correctly signed (a forger who knows the key's shape but not its
value cannot do more), and on random corruptions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from sales.rush_token import access_token_user
from sales.tests.rush_helpers import simplejwt_user


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(header: dict, claims: dict, key: str | None = None) -> str:
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new((key or settings.SIMPLE_JWT["SIGNING_KEY"]).encode(),
                   f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


class User:
    def __init__(self, pk) -> None:
        self.pk = self.id = pk


def test_the_stores_own_access_tokens_are_accepted_with_their_user():
    for pk in (1, 42, 10**9):
        token = str(AccessToken.for_user(User(pk)))
        assert access_token_user(token) == simplejwt_user(token) == pk


def test_refresh_and_expired_tokens_are_never_vouched_for():
    refresh = RefreshToken()
    refresh["user_id"] = 5
    expired = AccessToken.for_user(User(5))
    expired.set_exp(lifetime=-timedelta(seconds=1))
    for token in (str(refresh), str(expired), str(refresh.access_token) + "x"):
        assert access_token_user(token) is None


def test_other_settings_vouch_for_nothing(settings):
    token = str(AccessToken.for_user(User(3)))
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "AUDIENCE": "shop"}
    assert access_token_user(token) is None


NOW = int(time.time())
claim_values = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                         st.floats(allow_nan=False), st.text(max_size=8),
                         st.sampled_from(["access", "refresh", "42", "007", ""]),
                         st.sampled_from([NOW - 10, NOW + 3600, NOW + 30, NOW - 3600]))
claims = st.fixed_dictionaries(
    {},
    optional={"token_type": st.one_of(st.just("access"), claim_values),
              "exp": st.one_of(st.just(NOW + 600), claim_values),
              "iat": st.one_of(st.just(NOW - 5), claim_values),
              "jti": st.one_of(st.just("f" * 32), claim_values),
              "user_id": st.one_of(st.integers(1, 10**6), claim_values),
              "nbf": claim_values, "aud": claim_values, "iss": claim_values,
              "sub": claim_values, "extra": claim_values})
headers = st.one_of(
    st.just({"alg": "HS256", "typ": "JWT"}),
    st.fixed_dictionaries({"alg": st.sampled_from(["HS256", "HS512", "none", "RS256"])},
                          optional={"typ": st.sampled_from(["JWT", "jwt", "at+jwt"]),
                                    "kid": st.text(max_size=4),
                                    "crit": st.just(["exp"])}))


@pytest.mark.slow
@hypothesis_settings(max_examples=600, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=headers, body=claims, wrong_key=st.booleans())
def test_a_correctly_shaped_forgery_is_never_accepted_where_simplejwt_refuses(
        header, body, wrong_key):
    token = signed(header, body, key="not-the-key" if wrong_key else None)
    mine = access_token_user(token)
    if mine is not None:
        assert simplejwt_user(token) == mine


@pytest.mark.slow
@hypothesis_settings(max_examples=400, deadline=None)
@given(position=st.integers(0, 400), byte=st.integers(0, 255), cut=st.booleans())
def test_a_corrupted_token_is_never_accepted_where_simplejwt_refuses(position, byte, cut):
    token = str(AccessToken.for_user(User(77)))
    position %= len(token)
    corrupted = (token[:position] if cut
                 else token[:position] + chr(byte) + token[position + 1:])
    mine = access_token_user(corrupted)
    if mine is not None:
        assert simplejwt_user(corrupted) == mine
