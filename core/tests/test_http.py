"""Request helpers: who the client is (behind trusted proxies), its device and the
Idempotency-Key."""

from __future__ import annotations

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.errors import DomainError
from core.http import DEVICE_COOKIE, client_ip_of, device_of, idempotency_key_of


def request_with(**meta) -> Request:
    return Request(APIRequestFactory().get("/api/v1/products", **meta))


def test_without_trusted_proxies_the_client_is_the_socket_peer(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = request_with(REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip_of(request) == "10.0.0.9"


@pytest.mark.parametrize(("proxies", "forwarded", "expected"), [
    (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),
    (2, "6.6.6.6, 1.2.3.4, 10.0.0.2", "1.2.3.4"),
    (2, "1.2.3.4", "10.0.0.9"),
    (1, "", "10.0.0.9"),
])
def test_behind_n_proxies_the_client_is_the_entry_they_vouch_for(settings, proxies, forwarded,
                                                                 expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = request_with(REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip_of(request) == expected


def test_an_idempotency_key_is_optional_and_trimmed():
    assert idempotency_key_of(request_with()) is None
    assert idempotency_key_of(request_with(HTTP_IDEMPOTENCY_KEY=" abc-123 ")) == "abc-123"


@pytest.mark.parametrize("key", ["", "   ", "k" * 65, "a\x00b"])
def test_a_malformed_idempotency_key_is_invalid(key):
    with pytest.raises(DomainError) as caught:
        idempotency_key_of(request_with(HTTP_IDEMPOTENCY_KEY=key))
    assert caught.value.code == "invalid"
    assert "idempotency_key" in caught.value.details


def test_the_device_is_the_header_and_only_the_storefront_falls_back_to_its_cookie(rf):
    request = rf.get("/", HTTP_X_DEVICE_ID="phone-1")
    request.COOKIES[DEVICE_COOKIE] = "cookie-1"
    assert device_of(request) == device_of(request, cookie=True) == "phone-1"
    browser = rf.get("/")
    browser.COOKIES[DEVICE_COOKIE] = "cookie-1"
    assert (device_of(browser), device_of(browser, cookie=True)) == ("", "cookie-1")
    assert device_of(rf.get("/", HTTP_X_DEVICE_ID="d" * 80)) == "d" * 64
