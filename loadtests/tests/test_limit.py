"""The limit app (loadtests.limit): a purchase is one EVALSHA, refusals are the API's envelope."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from wsgiref.util import setup_testing_defaults

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from loadtests import limit
from sales.gate import keys as gate_keys

SALE = 987_654


def call(path: str, *, method: str = "POST", token: str | None = None,
         body: bytes = b"{}") -> tuple[int, dict, dict]:
    environ: dict = {"REQUEST_METHOD": method, "PATH_INFO": path,
                     "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    setup_testing_defaults(environ)
    answered = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answered["status"], answered["headers"] = int(status.split()[0]), dict(headers)

    data = b"".join(limit.application(environ, start_response))
    assert int(answered["headers"]["Content-Length"]) == len(data)
    return answered["status"], answered["headers"], json.loads(data)


@pytest.fixture
def redis_client():
    client = gate_keys.connection()
    limit.stock_set(client, SALE, 2)
    yield client
    client.delete(*limit.keys_of(SALE))


@pytest.fixture
def buyer(django_user_model):
    return django_user_model.objects.create_user("limit-buyer", password="x")


PURCHASE = f"/limit/sales/{SALE}/purchase"


def test_a_purchase_is_one_evalsha_that_takes_stock_counts_the_buyer_and_queues(
        redis_client, buyer):
    line = limit.line()
    calls = line.calls
    status, _, body = call(PURCHASE, token=str(AccessToken.for_user(buyer)),
                           body=b'{"quantity": 1}')
    assert status == 202 and body["status"] == "queued"
    assert body["ticket"].startswith(f"{SALE}-")
    assert limit.line().calls == calls + 1
    stock, bought, queue = limit.keys_of(SALE)
    assert redis_client.get(stock) == "1"
    assert redis_client.hget(bought, str(buyer.pk)) == "1"
    (entry_id, fields), = redis_client.xrange(queue)
    assert entry_id == body["position"] and fields["ticket"] == body["ticket"]


def test_the_last_unit_sells_once_then_it_is_sold_out_in_the_envelope(redis_client, buyer):
    token = str(AccessToken.for_user(buyer))
    assert [call(PURCHASE, token=token)[0] for _ in range(3)] == [202, 202, 409]
    status, _, body = call(PURCHASE, token=token)
    assert status == 409 and body["error"]["code"] == "sold_out"
    assert redis_client.get(limit.keys_of(SALE)[0]) == "0"


def _expired(buyer) -> str:
    token = AccessToken.for_user(buyer)
    token.set_exp(lifetime=-timedelta(seconds=1))
    return str(token)


@pytest.mark.parametrize("token_of", [
    lambda buyer: None,
    lambda buyer: "not.a.token",
    lambda buyer: str(RefreshToken.for_user(buyer)),  # not an access token
    _expired,
    lambda buyer: str(AccessToken.for_user(buyer))[:-2] + "xx",  # signature broken
])
def test_a_bad_token_is_refused_with_401_in_the_apis_envelope(token_of, redis_client, buyer,
                                                              client):
    line_calls, token = limit.line().calls, token_of(buyer)
    status, headers, body = call(PURCHASE, token=token)
    auth = {} if token is None else {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    real = client.post("/api/v1/sales/1/purchase", data="{}", content_type="application/json",
                       **auth)
    assert status == real.status_code == 401
    assert headers["WWW-Authenticate"] == real["WWW-Authenticate"]
    assert body == real.json()
    assert limit.line().calls == line_calls  # refused before Redis
    assert redis_client.get(limit.keys_of(SALE)[0]) == "2"


@pytest.mark.parametrize("raw", [b"[1]", b"{", b'{"quantity": 0}', b'{"quantity": true}'])
def test_a_body_that_is_not_a_purchase_is_invalid(raw, redis_client, buyer):
    status, _, body = call(PURCHASE, token=str(AccessToken.for_user(buyer)), body=raw)
    assert status == 400 and body["error"]["code"] == "invalid"


def test_the_bare_get_answers_a_constant_and_anything_else_is_not_found():
    assert call("/limit/bare", method="GET")[::2] == (200, {"ok": True})
    assert call("/limit/bare", body=b'{"quantity": 1}')[::2] == (200, {"ok": True})
    assert call("/limit/sales/x/purchase")[0] == 404
    assert call("/api/v1/products", method="GET")[2]["error"]["code"] == "not_found"


def test_the_limits_admission_is_the_gates_own_script_once_on_a_loaded_gate(make_sale, buyer):
    """(L): one EVALSHA of admit.lua over the gate's line, so it asks Redis for what a purchase
    asks: stock taken, the buyer counted, the ticket queued, the attempt recorded; the limit
    then refuses as the gate does (per-user limit)."""
    from sales.gate import holdings, hotline
    from sales.gate.keys import SaleKeys, script_source

    sale = make_sale(stock=5, limit=1)
    token = str(AccessToken.for_user(buyer))
    line = hotline.line("admit", script_source)
    calls = line.calls
    status, _, body = call(f"/limit/sales/{sale.pk}/admit", token=token, body=b'{"quantity":1}')
    assert status == 202 and body["status"] == "queued" and body["position"] == 1
    assert line.calls > calls  # the gate's own line (its dataset read, a NOSCRIPT load aside)
    state = holdings.state(sale_id=sale.pk)
    assert (state.stock_left, state.queued, state.bought) == (4, 1, {buyer.pk: 1})
    keys = SaleKeys(sale.pk)
    assert gate_keys.connection().xlen(keys.attempts) == 1
    status, _, body = call(f"/limit/sales/{sale.pk}/admit", token=token)
    assert (status, body["error"]["code"]) == (409, "limit_reached")
    assert call(f"/limit/sales/{sale.pk}/admit", token="not.a.token")[0] == 401
