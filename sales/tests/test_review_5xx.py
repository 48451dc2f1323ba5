"""Outside review: no 5xx other than a 503 `unavailable` when Redis is down, and none for
malformed ticket strings (API and storefront)."""

from __future__ import annotations

import pytest
from django.test import Client

from shop.tests.fixtures import client_for

TICKETS = ["1-00000000000000٣", "٣-0000000000000000", "999999999999-0123456789abcdef",
           "1-0123456789ABCDEF", "1-0123456789abcdef-ffffffffffff-0123456789abcdef",
           "1" * 13 + "-0123456789abcdef", "1-0123456789abcdef-" + "f" * 12 + "-" + "0" * 16,
           "x" * 300, "1-0123456789abcdef\n"]


def _urls(sale_id: int) -> list[tuple[str, str]]:
    return [("get", "/api/v1/sales"), ("get", f"/api/v1/sales/{sale_id}"),
            ("post", f"/api/v1/sales/{sale_id}/purchase"),
            ("post", f"/api/v1/sales/{sale_id}/reservations"),
            ("get", f"/api/v1/sales/{sale_id}/draw"),
            ("get", "/api/v1/tickets/1-0123456789abcdef"), ("get", "/api/v1/orders"),
            ("get", "/api/v1/me")]


def _web_urls(sale_id: int) -> list[tuple[str, str]]:
    return [("get", "/"), ("get", f"/sales/{sale_id}/"), ("get", f"/sales/{sale_id}/live.json"),
            ("post", f"/sales/{sale_id}/buy"), ("post", f"/sales/{sale_id}/reserve"),
            ("get", "/tickets/1-0123456789abcdef/"),
            ("get", "/tickets/1-0123456789abcdef/state.json"), ("get", "/orders/")]


def _web(customer) -> Client:
    web = Client(raise_request_exception=False)
    web.force_login(customer.user)
    return web


def test_no_5xx_but_503_when_redis_is_down(gate_redis, make_sale, customer):
    sale = make_sale(stock=5)
    api, web = client_for(customer.user), _web(customer)
    api.raise_request_exception = False
    gate_redis.server.stop()
    bad = []
    for method, url in _urls(sale.pk):
        response = getattr(api, method)(url, {}, format="json")
        if response.status_code >= 500 and (response.status_code != 503 or
                                            response.json()["error"]["code"] != "unavailable"):
            bad.append((url, response.status_code, response.content[:120]))
    for method, url in _web_urls(sale.pk):
        response = getattr(web, method)(url)
        if response.status_code >= 500 and response.status_code != 503:
            bad.append((url, response.status_code, response.content[:120]))
    assert not bad, [(u, c) for u, c, _ in bad]


@pytest.mark.parametrize("ticket", TICKETS)
def test_no_5xx_for_malformed_tickets(live_sale, customer, ticket):
    api, web = client_for(customer.user), _web(customer)
    api.raise_request_exception = False
    from urllib.parse import quote
    codes = [api.get(f"/api/v1/tickets/{quote(ticket)}").status_code,
             web.get(f"/tickets/{quote(ticket)}/").status_code,
             web.get(f"/tickets/{quote(ticket)}/state.json").status_code]
    assert all(code < 500 for code in codes), codes
