"""Every error under /api/ is the JSON envelope of docs/api.md and nothing else."""

from __future__ import annotations

import json
import logging

import pytest
from django.http import HttpResponse, HttpResponseServerError
from django.test import RequestFactory
from rest_framework.test import APIClient

from core.error_handling import ApiErrorMiddleware, api_exception_handler
from core.errors import DomainError, ErrorCode
from core.tests.helpers import assert_envelope
from shop import selectors


def test_malformed_json_is_400_invalid(api, db):
    response = api.post("/api/v1/me/addresses", data='{"recipient": ',
                        content_type="application/json")
    assert_envelope(response, 400, "invalid")


def test_a_body_that_is_not_json_is_400_invalid(anon, db):
    response = anon.post("/api/v1/auth/register", data="username=a&password=b",
                         content_type="application/x-www-form-urlencoded")
    error = assert_envelope(response, 400, "invalid")
    assert "application/json" in error["message"]


def test_wrong_json_types_are_400_naming_the_fields(api, db):
    response = api.post("/api/v1/me/addresses", {"recipient": ["a"], "line1": {"x": 1},
                                                 "city": "c", "postcode": "1", "phone": "1"},
                        format="json")
    error = assert_envelope(response, 400, "invalid")
    assert {"recipient", "line1"} <= set(error["details"])
    assert all(isinstance(m, str) for m in error["details"]["recipient"])


def test_a_json_list_instead_of_an_object_is_400_invalid(anon, db):
    response = anon.post("/api/v1/auth/register", data="[1, 2]", content_type="application/json")
    error = assert_envelope(response, 400, "invalid")
    assert error["details"]


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v2/products",
                                  "/api/v1/products/abc", "/api/v1/orders/1/refund"])
def test_an_unknown_route_under_api_is_a_404_envelope(anon, db, path):
    error = assert_envelope(anon.get(path), 404, "not_found")
    assert "No route" in error["message"]


def test_a_wrong_method_is_a_405_envelope(api, db):
    assert_envelope(api.delete("/api/v1/orders"), 405, "method_not_allowed")


def test_an_unhandled_error_is_a_500_envelope_with_no_stack_trace(customer, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(selectors, "order_list", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(customer.user)
    with caplog.at_level(logging.ERROR, logger="flashsale.api"):
        response = client.get("/api/v1/orders")
    error = assert_envelope(response, 500, "internal")
    assert error["details"] == {}
    text = response.content.decode()
    assert "hunter2" not in text and "Traceback" not in text and "<" not in text
    assert any(record.exc_info and "hunter2" in str(record.exc_info[1])
               for record in caplog.records)


def test_a_plain_500_page_under_api_becomes_the_envelope():
    middleware = ApiErrorMiddleware(lambda request: HttpResponseServerError("<h1>Oops</h1>"))
    response = middleware(RequestFactory().get("/api/v1/anything"))
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["code"] == "internal"


def test_an_exception_outside_drf_under_api_becomes_the_envelope(caplog):
    middleware = ApiErrorMiddleware(lambda request: HttpResponse())
    request = RequestFactory().get("/api/v1/anything")
    with caplog.at_level(logging.ERROR, logger="flashsale.api"):
        response = middleware.process_exception(request, KeyError("secret"))
    assert response.status_code == 500
    assert "secret" not in response.content.decode()
    assert caplog.records


def test_pages_outside_api_keep_their_own_error_pages(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
    middleware = ApiErrorMiddleware(lambda request: HttpResponseServerError("<h1>Oops</h1>"))
    assert middleware.process_exception(RequestFactory().get("/admin/"), KeyError()) is None


def test_a_rate_limit_refusal_carries_retry_after():
    error = DomainError("rate_limited", "Slow down.", details={"retry_after": 7})
    response = api_exception_handler(error, {})
    assert response.status_code == 429
    assert response["Retry-After"] == "7"


# docs/api.md's statuses, pinned by hand: the enum must not drift from the contract.
CONTRACT_STATUS = {"invalid": 400, "unauthenticated": 401, "blocked": 403, "forbidden": 403,
                   "not_found": 404, "not_started": 409, "ended": 409, "sold_out": 409,
                   "limit_reached": 409, "reservation_required": 409, "fcode_invalid": 409,
                   "payment_expired": 409, "already_paid": 409, "not_payable": 409,
                   "rate_limited": 429, "unavailable": 503}


@pytest.mark.parametrize(("code", "status"), [
    *CONTRACT_STATUS.items(),
    *((code.value, code.status) for code in ErrorCode
      if code.status is not None and code not in CONTRACT_STATUS)])
def test_domain_error_codes_map_to_the_contract_status(code, status):
    response = api_exception_handler(DomainError(code, "No."), {})
    assert response.status_code == status
    body = json.loads(response.content)
    assert body == {"error": {"code": code, "message": "No.", "details": {}}}


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=latin-1",
                                          "application/x-www-form-urlencoded"])
@pytest.mark.parametrize("path", ["/api/v1/auth/register", "/api/v1/sales/1/purchase"])
def test_a_body_over_the_upload_limit_is_400_invalid_not_a_500(api, db, settings, path,
                                                                content_type):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"quantity": 1, "pad": "' + "x" * 2000 + '"}'
    response = api.generic("POST", path, body, content_type=content_type)
    details = assert_envelope(response, 400, "invalid")["details"]
    if "json" in content_type:  # a form body is refused earlier, for its type (no JSON here)
        assert details == {"body": ["at most 1000 bytes"]}
