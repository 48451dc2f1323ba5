"""Fuzz of the rush path (sales.rush) against Django: any mix of method, path, headers and
body through both WSGI applications on twin worlds (sales.tests.rush_harness) gets the same
answer and decides as many attempts. Found the reviewed rush path's wrong answers (commit
1bfcc5b) that sales/tests/test_rush_headers.py and test_rush_edges.py now pin."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from sales.rush import RushPath
from sales.tests.rush_harness import (
    Answer,
    Counting,
    World,
    comparable,
    decided,
    request,
    served,
    token_of,
)

# ---- 10. Fuzz: header, body and path variants through both applications ----------------------

SPACES = [" ", "  ", "\t", "\xa0", "\x85", "\x1c", "\x0b"]
AUTHS = st.tuples(st.sampled_from(["", " ", "\xa0"]),
                  st.sampled_from(["Bearer", "Bearer", "bearer", "JWT", "Basic"]),
                  st.sampled_from(SPACES),
                  st.sampled_from(["access", "access", "refresh", "expired", "garbage", ""]),
                  st.sampled_from(["", "", " ", "\xa0", ", Bearer x", " x"]))
PATHS = ["/api/v1/sales/{id}/purchase"] * 4 + [
    "/api/v1/sales/0{id}/purchase", "/api/v1/sales/{id}/purchase/",
    "//api/v1/sales/{id}/purchase", "/api/v1/sales/{id};p/purchase",
    "/api/v1/sales/{id}/purchase;p", "/api/v1/sales/{id}/purchase.",
    "/api/v1/sales/\u0661/purchase".encode().decode("latin-1"),
    "/api/v1/sales/" + "9" * 25 + "/purchase", "/api/v1/sales/" + "1" * 4400 + "/purchase"]
BODIES = [b'{"quantity": 1}'] * 4 + [
    b"", b'{"quantity": 2}', b'{"quantity": true}', b'{"quantity": 1.0}', b'{"quantity": "1"}',
    b'\xef\xbb\xbf{"quantity": 1}', b'{"quantity": 3, "quantity": 1}', b"[1]", b"null",
    b'{"quantity": 1}\xff', b"[" * 60000, b'{"quantity": 1e0}', b'{"quantity": NaN}',
    b'{"quantity": 1, "address_id": 99999999999999999999999}', b'{"quantity": 1, "x": "\xc3"}',
    "{\"quantity\": 1}".encode("utf-16")]
CONTENT_TYPES = ["application/json"] * 3 + [
    "APPLICATION/JSON", "application/json; charset=utf-8", "application/json;charset=UTF-8",
    "application/json; charset=latin-1", "text/plain", "", None]
LENGTHS = ["exact"] * 3 + ["absent", "+5", "-3", "0", "-1", " exact", "1_0", "9999999999"]
ACCEPTS = [None] * 3 + ["", "*/*", "application/json", "text/html",
                        "application/json; indent=2", "text/html, application/json",
                        "APPLICATION/JSON", ",", "application/*", "*/*;q=0.1", " "]
HOSTS = ["testserver"] * 3 + ["TESTSERVER:80", "testserver.", "[::1]:8000", "evil.example",
                              "", None, "testserver:x"]
KEYS = [None] * 3 + ["k-1", " k-1 ", "", "x" * 65, "k\xa0", "k\x00"]
METHODS = ["POST"] * 5 + ["GET", "PUT", "post"]


def _own_sale_ids(answer: Answer, world: World) -> Answer:
    """A path with this world's sale id in a message ("No route /api/v1/sales/0{id};p/...")
    read as the other world's: the id written <sale> wherever a path names it."""
    def own(text: str) -> str:
        for pk in world.sales:
            text = re.sub(rf"(/sales/0*){pk}(?![0-9])", r"\g<1><sale>", text)
        return text
    body = own(answer.body.decode("utf-8", "replace")).encode()
    headers = {k: own(v) for k, v in answer.headers.items()}
    if "content-length" in headers:  # true of the answer as sent, then of the rewritten one
        assert headers["content-length"] == str(len(answer.body))
        headers["content-length"] = str(len(body))
    return Answer(answer.status, headers, body)


def _fuzzed(world: World, sale_id: int, draw: dict) -> dict:
    user = world.buyer()
    before, scheme, space, kind, after = draw["auth"]
    token = {"access": lambda: token_of(user), "refresh": lambda: str(RefreshToken.for_user(user)),
             "garbage": lambda: "x.y.z", "": lambda: ""}.get(kind)
    if kind == "expired":
        expired = AccessToken.for_user(user)
        expired.set_exp(lifetime=-timedelta(seconds=5))
        token = lambda: str(expired)  # noqa: E731
    environ = request("POST", "/x", body=draw["body"], content_type="application/json",
                      HTTP_AUTHORIZATION=f"{before}{scheme}{space}{token()}{after}")
    environ["REQUEST_METHOD"] = draw["method"]
    environ["PATH_INFO"] = draw["path"].format(id=sale_id)
    if draw["query"]:
        environ["QUERY_STRING"] = "a=1"
    if draw["content_type"] is None:
        environ.pop("CONTENT_TYPE", None)
    else:
        environ["CONTENT_TYPE"] = draw["content_type"]
    length = len(draw["body"])
    environ.pop("CONTENT_LENGTH", None)
    if draw["length"] != "absent":
        environ["CONTENT_LENGTH"] = {"exact": str(length), " exact": f" {length}",
                                     "+5": str(length + 5), "-3": str(max(length - 3, 0))
                                     }.get(draw["length"], draw["length"])
    for name, value in (("HTTP_ACCEPT", draw["accept"]), ("HTTP_HOST", draw["host"]),
                        ("HTTP_IDEMPOTENCY_KEY", draw["key"])):
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])
@given(draw=st.fixed_dictionaries({
    "auth": AUTHS, "path": st.sampled_from(PATHS), "body": st.sampled_from(BODIES),
    "content_type": st.sampled_from(CONTENT_TYPES), "length": st.sampled_from(LENGTHS),
    "accept": st.sampled_from(ACCEPTS), "host": st.sampled_from(HOSTS),
    "key": st.sampled_from(KEYS), "method": st.sampled_from(METHODS),
    "query": st.booleans()}))
def test_fuzzed_purchases_are_answered_as_django_answers_them(twin_worlds, draw):
    """Any mix of odd method, path, Authorization, Content-Type, Content-Length, Accept,
    Host, Idempotency-Key and body: the rush path's answer is Django's (status, headers,
    body), it never raises out of the WSGI application, emits no header twice, and its gate
    decides exactly as many attempts as Django's. One big sale per world, a fresh buyer per
    example (the worlds stay twins as long as every answer agrees)."""
    django_world, rush_world = twin_worlds
    if not django_world.sales:
        for world in twin_worlds:
            world.sale(stock=100_000, limit=2)
    names = []

    def recording(environ, start_response):
        def start(status, headers, exc_info=None):
            names.extend(name.lower() for name, _ in headers)
            return start_response(status, headers, exc_info)
        return RushPath(Counting())(environ, start)

    answers = []
    for world, app in ((rush_world, recording), (django_world, WSGIHandler())):
        before = decided(world)
        answer = served(app, _fuzzed(world, world.sales[0], draw))
        status, headers, body = comparable(_own_sale_ids(answer, world), world)
        if isinstance(body, dict) and body.get("position") is not None:
            body["position"] = "<volatile>"  # the shared sale's queue, longer by each example
        answers.append(((status, headers, body), decided(world) - before))
    assert len(names) == len(set(names)), names
    rush, django = answers
    assert rush == django
