"""Outside review of the rush path (sales.rush, sales.rush_token): requests on which its
answer is not Django's. Each test runs one request through both WSGI applications on twin
worlds (sales/tests/test_rush.py's harness) and expects the same status, headers and body,
and the same number of attempts decided by the gate. An exception out of the WSGI
application is what a WSGI server turns it into: a bare 500.

Every test here failed against the rush path as reviewed (commit 1bfcc5b); the docstrings
name the request, Django's answer and the rush path's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import timedelta

import pytest
import redis
import rest_framework_simplejwt.authentication as simplejwt_authentication
import rest_framework_simplejwt.settings as simplejwt_settings
from django.conf import settings as django_settings
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from sales import selectors
from sales.gate.keys import SaleKeys, connection
from sales.rush import RushPath
from sales.rush_token import access_token_user
from sales.tests.test_rush import (
    Answer,
    Counting,
    World,
    _comparable,
    _ticket,
    bearer,
    call,
    purchase,
    request,
)
from sales.tests.test_rush_token import simplejwt_user


@pytest.fixture
def twin_worlds(make_customer, sku, settings):
    """test_rush's twin worlds: the same sales and buyers built twice, one per application."""
    settings.PURCHASE_RATE_LIMIT = 3
    now = timezone.now()
    return (World(now=now, make_customer=make_customer, sku=sku),
            World(now=now, make_customer=make_customer, sku=sku))


def served(app, environ: dict) -> Answer:
    """`call`, as a WSGI server answers: an exception out of the application is a 500."""
    try:
        return call(app, environ)
    except Exception as error:  # noqa: BLE001 - what gunicorn does with it
        return Answer("500 Internal Server Error", {"content-type": "text/plain"},
                      f"uncaught {type(error).__name__}".encode())


def decided(world: World) -> int | None:
    """Attempts the gate decided in this world (every decided attempt is in `attempts`);
    None while Redis is down (then nobody decided anything)."""
    try:
        return sum(connection().xlen(SaleKeys(pk).attempts) for pk in world.sales)
    except redis.ConnectionError:
        return None


def both(worlds, build) -> tuple[tuple, tuple]:
    """(rush path's answer, Django's answer), each with the attempts its world decided."""
    django_world, rush_world = worlds
    django_answer = served(WSGIHandler(), build(django_world))
    rush_answer = served(RushPath(Counting()), build(rush_world))
    return ((_comparable(rush_answer, rush_world), decided(rush_world)),
            (_comparable(django_answer, django_world), decided(django_world)))


def token_of(user) -> str:
    return str(AccessToken.for_user(user))


# ---- 1. Authorization parsing: str.split() is not bytes.split() ---------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("header", ["Bearer\xa0{t}", "\xa0Bearer {t}", "Bearer {t}\x85",
                                    "Bearer\x1c{t}"],
                         ids=["nbsp between", "nbsp before", "nel after", "x1c between"])
def test_non_ascii_whitespace_around_the_token_is_refused_as_simplejwt_refuses_it(
        twin_worlds, header):
    """SECURITY (low) / wrong answer. `Authorization: Bearer\\xa0<valid token>` (a WSGI
    environ holds header bytes as latin-1 text, so NBSP U+00A0, NEL U+0085 and U+001C-U+001F
    arrive as such): simplejwt splits the header as bytes (ASCII whitespace only), finds one
    part and refuses: Django 401 `unauthenticated` with WWW-Authenticate. The rush path
    splits it as str (Unicode whitespace), accepts the token and the gate admits: 202 queued.
    Two parsers disagreeing on one credential, and an attempt decided that Django refused."""
    rush, django = both(twin_worlds, lambda w: purchase(
        w, w.sale(), (user := w.buyer()), HTTP_AUTHORIZATION=header.format(t=token_of(user))))
    assert django[0][0].startswith("401")
    assert rush == django


# ---- 2. A malformed Bearer header: answered here, without WWW-Authenticate -----------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer {t},Bearer {t}"],
                         ids=["no token", "three parts", "two headers joined by a proxy"])
def test_a_malformed_bearer_header_gets_djangos_401_with_www_authenticate(twin_worlds, header):
    """Wrong answer (headers). `Authorization: Bearer` (or three parts, or two Authorization
    headers a server joined with a comma): simplejwt's get_raw_token raises
    AuthenticationFailed. Django: 401 with `WWW-Authenticate: Bearer realm="api"` (DRF sets
    exc.auth_header before the handler runs). The rush path calls get_raw_token outside its
    Handoff guard, so it answers itself (not the handoff the module promises for a bad
    token) through api_exception_handler(exc, {}): the same 401 body, no WWW-Authenticate."""
    rush, django = both(twin_worlds, lambda w: purchase(
        w, w.sale(), (user := w.buyer()), HTTP_AUTHORIZATION=header.format(t=token_of(user))))
    assert "www-authenticate" in django[0][1]
    assert rush == django


@pytest.mark.django_db(transaction=True)
def test_a_ticket_poll_with_a_bare_bearer_gets_www_authenticate(twin_worlds):
    """Wrong answer (headers), the ticket poll: `GET /api/v1/tickets/{t}` with
    `Authorization: Bearer`. Django 401 + WWW-Authenticate; the rush path 401 without."""
    rush, django = both(twin_worlds, lambda w: {**_ticket(w, settle=False),
                                                "HTTP_AUTHORIZATION": "Bearer"})
    assert rush == django


# ---- 3. An empty Accept header ------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ["purchase", "ticket"])
def test_an_empty_accept_header_is_drfs_406(twin_worlds, route):
    """Wrong answer. `Accept:` present but empty (some HTTP clients send it so). DRF reads
    META.get('HTTP_ACCEPT', '*/*') == '', which no renderer satisfies: 406 `not_acceptable`,
    nothing decided. The rush path's `_accepts_json` treats '' like no header at all and
    answers: 202 queued (the gate decides an attempt Django refused) or 200 for the ticket."""
    def build(w):
        environ = purchase(w, w.sale()) if route == "purchase" else _ticket(w, settle=False)
        return {**environ, "HTTP_ACCEPT": ""}

    rush, django = both(twin_worlds, build)
    assert django[0][0].startswith("406")
    assert rush == django


# ---- 4. A sale id past Python's int() digit limit ----------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_purchase_on_a_5000_digit_sale_id_is_djangos_404_not_an_uncaught_valueerror(
        twin_worlds):
    """Wrong answer, 5xx. `POST /api/v1/sales/111...1/purchase` (5000 digits). Django's int
    converter raises ValueError (Python's 4300-digit limit), which the resolver treats as no
    match: 404 `not_found` "No route ...". The rush path calls int() on the id in __call__,
    outside any guard: ValueError out of the WSGI application, the server's bare 500 (and a
    traceback per request, for one cheap request)."""
    rush, django = both(twin_worlds, lambda w: request(
        "POST", "/api/v1/sales/" + "1" * 5000 + "/purchase", body={"quantity": 1},
        HTTP_AUTHORIZATION=bearer(w.buyer())))
    assert django[0][0].startswith("404")
    assert rush == django


@pytest.mark.django_db(transaction=True)
def test_the_live_state_of_a_5000_digit_sale_id_is_djangos_404(twin_worlds):
    """Wrong answer, 5xx. `GET /sales/111...1/live.json` (5000 digits): Django 404 (the
    storefront's page). The rush path's live branch raises Handoff (int() fails inside
    `_answer`), but that branch has no `except Handoff`: it escapes the WSGI application, a
    bare 500."""
    rush, django = both(twin_worlds, lambda w: request(
        "GET", "/sales/" + "1" * 5000 + "/live.json"))
    assert django[0][0].startswith("404")
    assert rush == django


# ---- 5. The live state while Redis or the database is down ---------------------------------

@pytest.mark.django_db(transaction=True)
def test_the_live_state_with_redis_down_is_djangos_503_not_an_uncaught_handoff(
        twin_worlds, gate_redis):
    """Wrong answer, 5xx, the worst of these: every shopper's countdown polls live.json, and
    Redis failing over is exactly when it must stay a clean 503. `GET /sales/{id}/live.json`
    with the gate's Redis stopped: Django 503 `unavailable` with Retry-After: 1
    (ApiErrorMiddleware -> _storefront_unavailable). The rush path: redis.ConnectionError in
    live_response becomes Handoff inside `_answer`, and the live branch of __call__ does
    not catch Handoff: it escapes the WSGI application, a bare 500 on every poll."""
    environs = {id(world): request("GET", f"/sales/{world.sale().pk}/live.json")
                for world in twin_worlds}
    gate_redis.server.stop()
    rush, django = both(twin_worlds, lambda w: environs[id(w)])
    assert django[0][0].startswith("503")
    assert rush == django


@pytest.mark.django_db(transaction=True)
def test_the_live_state_with_the_database_down_is_djangos_503(twin_worlds, monkeypatch):
    """Wrong answer, 5xx. `GET /sales/{id}/live.json` while the database drops its
    connections (OperationalError from the sale's query): Django 503 `unavailable` with
    Retry-After; the rush path lets its Handoff escape: a bare 500."""
    environs = {id(world): request("GET", f"/sales/{world.sale().pk}/live.json")
                for world in twin_worlds}

    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(selectors, "sale_list", database_gone)
    rush, django = both(twin_worlds, lambda w: environs[id(w)])
    assert django[0][0].startswith("503")
    assert rush == django


# ---- 6. Settings the rush path does not read -----------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ["purchase", "live"])
def test_disallowed_user_agents_are_refused_as_django_refuses_them(twin_worlds, settings,
                                                                    route):
    """SECURITY (config bypass). With DISALLOWED_USER_AGENTS = [re.compile("curl")] (the
    setting an operator reaches for against a bot wave), `User-Agent: curl/8.5` is refused
    by CommonMiddleware: 403. The rush path never looks: 202 queued (the bot buys) / 200."""
    settings.DISALLOWED_USER_AGENTS = [re.compile("curl")]

    def build(w):
        if route == "purchase":
            return purchase(w, w.sale(), HTTP_USER_AGENT="curl/8.5")
        return request("GET", f"/sales/{w.sale().pk}/live.json", HTTP_USER_AGENT="curl/8.5")

    rush, django = both(twin_worlds, build)
    assert django[0][0].startswith("403")
    assert rush == django


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["AUTH_HEADER_TYPES", "AUTH_HEADER_NAME"])
def test_simplejwts_header_settings_are_honoured(twin_worlds, settings, monkeypatch, change):
    """SECURITY (latent, config-dependent). `_settings_vouched_for` checks the algorithm,
    key, claims and token classes but not the header simplejwt reads: with
    SIMPLE_JWT["AUTH_HEADER_TYPES"] = ("JWT",) Django refuses `Authorization: Bearer <t>`
    (401), the rush path's hard-coded "Bearer" accepts it (202); with AUTH_HEADER_NAME =
    "HTTP_X_ACCESS_TOKEN" Django ignores Authorization altogether (401), the rush path
    still reads it (202). (simplejwt.authentication binds api_settings and computes
    AUTH_HEADER_TYPE_BYTES at import: patched here as a process started with that setting
    would have them.)"""
    if change == "AUTH_HEADER_TYPES":
        settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "AUTH_HEADER_TYPES": ("JWT",)}
        monkeypatch.setattr(simplejwt_authentication, "AUTH_HEADER_TYPES", ("JWT",))
        monkeypatch.setattr(simplejwt_authentication, "AUTH_HEADER_TYPE_BYTES", {b"JWT"})
    else:
        settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "AUTH_HEADER_NAME": "HTTP_X_ACCESS_TOKEN"}
    monkeypatch.setattr(simplejwt_authentication, "api_settings",
                        simplejwt_settings.api_settings)
    rush, django = both(twin_worlds, lambda w: purchase(w, w.sale()))
    assert django[0][0].startswith("401")
    assert rush == django


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ["purchase", "live"])
def test_a_referrer_policy_with_spaces_is_normalised_as_securitymiddleware_does(
        twin_worlds, settings, route):
    """Cosmetic. SECURE_REFERRER_POLICY = "same-origin, strict-origin" (a comma-separated
    string, as Django documents it): SecurityMiddleware strips each value,
    `Referrer-Policy: same-origin,strict-origin`; the rush path copies the string as is,
    `same-origin, strict-origin`."""
    settings.SECURE_REFERRER_POLICY = "same-origin, strict-origin"

    def build(w):
        if route == "purchase":
            return purchase(w, w.sale())
        return request("GET", f"/sales/{w.sale().pk}/live.json")

    rush, django = both(twin_worlds, build)
    assert rush == django


# ---- 7. What the session and CSRF middlewares add ----------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route, cookie", [("purchase", "sessionid=x"), ("ticket", "sessionid="),
                                           ("live", "sessionid=x"), ("purchase", "csrftoken=x")])
def test_an_unusable_session_or_csrf_cookie_gets_djangos_set_cookie_and_vary(twin_worlds,
                                                                           route, cookie):
    """Cosmetic (but on a `Cache-Control: public` answer for live.json). A browser sends a
    session cookie that is empty or shorter than a session key (`Cookie: sessionid=x`):
    SessionMiddleware deletes it (`Set-Cookie: sessionid=""; Max-Age=0`) and adds
    `Vary: Cookie`; a malformed CSRF cookie (`Cookie: csrftoken=x`): CsrfViewMiddleware
    sets a new one and `Vary: Cookie`. The rush path sends neither. (Compared here: status,
    body, the header names and Vary; a new CSRF token is random.)"""
    def build(w):
        if route == "purchase":
            environ = purchase(w, w.sale())
        elif route == "ticket":
            environ = _ticket(w, settle=False)
        else:
            environ = request("GET", f"/sales/{w.sale().pk}/live.json")
        return {**environ, "HTTP_COOKIE": cookie}

    def shape(answer):
        (status, headers, body), attempts = answer
        return status, sorted(headers), headers.get("vary"), body, attempts

    rush, django = both(twin_worlds, build)
    assert "set-cookie" in django[0][1]
    assert shape(rush) == shape(django)


# ---- 8. Django's request signals -------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_handed_off_request_is_one_request_to_djangos_signals(twin_worlds):
    """Cosmetic. `POST /api/v1/sales/{id}/purchase` with `Authorization: Bearer x.y.z` (a
    bad token, handed to Django): Django sends request_started and request_finished once.
    Through the rush path they are sent twice: `_answer` sends them around `build`, whose
    Handoff then goes to Django, which sends them again (close_old_connections runs twice;
    any receiver counting requests, e.g. metrics, counts two)."""
    started = []

    def count(sender, **kwargs):
        started.append(sender)

    counts = []
    signals.request_started.connect(count)
    try:
        for world, app in zip(twin_worlds, (WSGIHandler(), RushPath(Counting())), strict=True):
            started.clear()
            served(app, purchase(world, world.sale(), HTTP_AUTHORIZATION="Bearer x.y.z"))
            counts.append(len(started))
    finally:
        signals.request_started.disconnect(count)
    django_count, rush_count = counts
    assert rush_count == django_count == 1


# ---- 9. The token check: an exp simplejwt cannot read -----------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(claims: dict) -> str:
    head = _b64(b'{"alg":"HS256","typ":"JWT"}')
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(django_settings.SIMPLE_JWT["SIGNING_KEY"].encode(), f"{head}.{body}".encode(),
                   hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


@pytest.mark.parametrize("exp", [2**40, 10**12, 253402300800])
def test_a_token_whose_exp_is_past_the_year_9999_is_not_vouched_for(exp):
    """Wrong answer (low: needs the signing key). A correctly signed access token with an
    `exp` past 9999-12-31 (2**40, the range test_rush_token's own strategy draws from):
    simplejwt's check_exp raises ValueError (datetime.fromtimestamp: year out of range), so
    the API answers 500 `internal` and never accepts it; access_token_user vouches for it
    and the rush path answers 202 queued."""
    now = int(time.time())
    token = _signed({"token_type": "access", "exp": exp, "iat": now, "jti": "f" * 32,
                     "user_id": 7})
    assert simplejwt_user(token) is None
    assert access_token_user(token) is None


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
    return Answer(answer.status, {k: own(v) for k, v in answer.headers.items()}, body)


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
        status, headers, body = _comparable(_own_sale_ids(answer, world), world)
        if isinstance(body, dict) and body.get("position") is not None:
            body["position"] = "<volatile>"  # the shared sale's queue, longer by each example
        answers.append(((status, headers, body), decided(world) - before))
    assert len(names) == len(set(names)), names
    rush, django = answers
    assert rush == django
