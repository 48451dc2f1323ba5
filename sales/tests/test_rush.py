"""The rush path answers exactly as Django and DRF would: every purchase, ticket and live-state
case is run through both WSGI applications on twin worlds (the same sales, buyers and state,
built twice) and the answers compared: status, JSON body, headers. Each case also says
whether the rush path answers it itself or hands it to Django, so a path that handed
everything off (and so trivially agreed) would fail here too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.handlers.wsgi import WSGIHandler
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from antiscalper import services as antiscalper_services
from sales.gate.keys import SaleKeys, connection
from sales.pipeline import orders as pipeline
from sales.rush import RushPath
from sales.tests.rush_harness import (
    Counting,
    World,
    bearer,
    call,
    comparable,
    purchase,
    request,
    ticket_poll,
)
from shop.models import Order


def _blocked(world: World):
    user = world.buyer()
    antiscalper_services.blacklist_add(kind="account", value=str(user.pk), reason="ring")
    return purchase(world, world.sale(), user)


def _sold_out(world: World):
    sale = world.sale(stock=1)
    world.admit(sale, world.buyer())
    return purchase(world, sale)


def _limit(world: World):
    sale, user = world.sale(), world.buyer()
    world.admit(sale, user)
    return purchase(world, sale, user)


def _duplicate(world: World):
    sale, user = world.sale(), world.buyer()
    world.admit(sale, user, idempotency_key="k-1")
    return purchase(world, sale, user, HTTP_IDEMPOTENCY_KEY="k-1")


def _rate_limited(world: World):
    sale, user = world.sale(limit=5), world.buyer()
    for _ in range(3):
        world.admit(sale, user)
    return purchase(world, sale, user)


def _gate_lost(world: World):
    sale = world.sale()
    connection().delete(SaleKeys(sale.pk).meta)
    return purchase(world, sale)


def _refresh_token(world: World):
    user = world.buyer()
    return purchase(world, world.sale(), user,
                    HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user)}")


def _expired_token(world: World):
    user = world.buyer()
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=5))
    return purchase(world, world.sale(), user, HTTP_AUTHORIZATION=f"Bearer {token}")


def _someone_elses_ticket(world: World):
    sale, user = world.sale(), world.buyer()
    admitted = world.admit(sale, user)
    return request("GET", f"/api/v1/tickets/{admitted.ticket}",
                   HTTP_AUTHORIZATION=bearer(world.buyer()))


# (name, build the request in a world, answered by the rush path itself?)
CASES = [
    ("admitted", lambda w: purchase(w, w.sale()), True),
    ("admitted, two units", lambda w: purchase(w, w.sale(limit=2), body={"quantity": 2}), True),
    ("admitted, empty body", lambda w: purchase(w, w.sale(), body=b""), True),
    ("empty body, no content type", lambda w: purchase(w, w.sale(), body=b"",
                                                        content_type=None), False),
    ("admitted, charset", lambda w: purchase(
        w, w.sale(), content_type="application/json; charset=utf-8"), True),
    ("admitted, browser headers", lambda w: purchase(
        w, w.sale(), HTTP_ACCEPT="*/*", HTTP_USER_AGENT="Mozilla/5.0", HTTP_X_DEVICE_ID="d1",
        HTTP_ACCEPT_LANGUAGE="zh-CN"), True),
    ("duplicate", _duplicate, True),
    ("sold out", _sold_out, True),
    ("limit reached", _limit, True),
    ("quantity over the limit", lambda w: purchase(w, w.sale(limit=2), body={"quantity": 3}),
     True),
    ("not started", lambda w: purchase(w, w.sale(starts_in=600)), True),
    ("ended", lambda w: purchase(w, w.sale(starts_in=-7200, lasts=60)), True),
    ("no such sale", lambda w: request("POST", "/api/v1/sales/999999/purchase",
                                       body={"quantity": 1},
                                       HTTP_AUTHORIZATION=bearer(w.buyer())), True),
    ("reservation required", lambda w: purchase(w, w.sale(
        mode="reservation", reservation_opens_at=w.now - timedelta(hours=2),
        reservation_closes_at=w.now - timedelta(hours=1))), True),
    ("blocked", _blocked, True),
    ("wrong F-code", lambda w: purchase(w, w.sale(fcode_quota=2),
                                        body={"quantity": 1, "fcode": "ABCDE-FGHJK-MNPQR"}),
     True),
    ("rate limited", _rate_limited, True),
    ("gate lost", _gate_lost, True),
    ("no token", lambda w: purchase(w, w.sale(), HTTP_AUTHORIZATION=""), False),
    ("bad token", lambda w: purchase(w, w.sale(), HTTP_AUTHORIZATION="Bearer x.y.z"), False),
    ("basic auth", lambda w: purchase(w, w.sale(), HTTP_AUTHORIZATION="Basic Zm9vOmJhcg=="),
     False),
    ("refresh token", _refresh_token, False),
    ("expired token", _expired_token, False),
    ("malformed JSON", lambda w: purchase(w, w.sale(), body=b'{"quantity": '), False),
    ("NaN", lambda w: purchase(w, w.sale(), body=b'{"quantity": NaN}'), False),
    ("not an object", lambda w: purchase(w, w.sale(), body=[1]), False),
    ("quantity zero", lambda w: purchase(w, w.sale(), body={"quantity": 0}), False),
    ("quantity a string", lambda w: purchase(w, w.sale(), body={"quantity": "1"}), True),
    ("unknown field", lambda w: purchase(w, w.sale(), body={"quantity": 1, "price": 1}), True),
    ("form body", lambda w: purchase(w, w.sale(), body=b"quantity=1",
                                     content_type="application/x-www-form-urlencoded"), False),
    ("bad Idempotency-Key", lambda w: purchase(w, w.sale(), HTTP_IDEMPOTENCY_KEY="x" * 65),
     False),
    ("Accept: text/html", lambda w: purchase(w, w.sale(), HTTP_ACCEPT="text/html"), False),
    ("Accept with indent", lambda w: purchase(
        w, w.sale(), HTTP_ACCEPT="application/json; indent=4"), False),
    ("a query string", lambda w: {**purchase(w, w.sale()), "QUERY_STRING": "format=json"},
     False),
    ("a host not allowed", lambda w: {**purchase(w, w.sale()), "HTTP_HOST": "evil.example"},
     False),
    ("GET on purchase", lambda w: request("GET", f"/api/v1/sales/{w.sale().pk}/purchase",
                                          HTTP_AUTHORIZATION=bearer(w.buyer())), False),
    ("a trailing slash", lambda w: request("POST", f"/api/v1/sales/{w.sale().pk}/purchase/",
                                           body={"quantity": 1},
                                           HTTP_AUTHORIZATION=bearer(w.buyer())), False),
    ("ticket queued", lambda w: ticket_poll(w, settle=False), True),
    ("ticket confirmed", lambda w: ticket_poll(w, settle=True), True),
    ("someone else's ticket", _someone_elses_ticket, True),
    ("a ticket that is no ticket", lambda w: request(
        "GET", "/api/v1/tickets/not-a-ticket", HTTP_AUTHORIZATION=bearer(w.buyer())), True),
    ("a ticket without a token", lambda w: request("GET", "/api/v1/tickets/x"), False),
    ("live state", lambda w: request("GET", f"/sales/{w.sale().pk}/live.json"), True),
    ("live state, upcoming", lambda w: request(
        "GET", f"/sales/{w.sale(starts_in=600, load=False).pk}/live.json"), True),
    ("live state of no sale", lambda w: request("GET", "/sales/999999/live.json"), True),
    ("POST on live state", lambda w: request("POST", f"/sales/{w.sale().pk}/live.json"), False),
]

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name, build, answered_here", CASES, ids=[c[0] for c in CASES])
def test_the_rush_path_answers_as_django_does(twin_worlds, name, build, answered_here):
    django_world, rush_world = twin_worlds
    django_answer = call(WSGIHandler(), build(django_world))
    django = Counting()
    rush_answer = call(RushPath(django), build(rush_world))
    assert (django.calls == 0) == answered_here
    assert comparable(rush_answer, rush_world) == comparable(django_answer, django_world)


@pytest.mark.django_db(transaction=True)
def test_a_secure_deployment_gets_the_same_headers_and_redirects(twin_worlds, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    django_world, rush_world = twin_worlds
    for proto, answered_here in (("https", True), ("http", False)):
        django_answer = call(WSGIHandler(), purchase(
            django_world, django_world.sale(), HTTP_X_FORWARDED_PROTO=proto))
        django = Counting()
        rush_answer = call(RushPath(django), purchase(
            rush_world, rush_world.sale(), HTTP_X_FORWARDED_PROTO=proto))
        assert (django.calls == 0) == answered_here
        assert comparable(rush_answer, rush_world) == comparable(django_answer, django_world)
    assert "strict-transport-security" in rush_answer.headers or proto == "http"


@pytest.mark.django_db(transaction=True)
def test_the_row_lock_strategy_and_a_switched_off_rush_path_go_to_django(twin_worlds, settings):
    _, world = twin_worlds
    for change in ({"PURCHASE_STRATEGY": "row_lock"}, {"RUSH_PATH": False}):
        with pytest.MonkeyPatch.context() as patch:
            for key, value in change.items():
                patch.setattr(settings, key, value)
            django = Counting()
            call(RushPath(django), purchase(world, world.sale()))
            assert django.calls == 1


@pytest.mark.django_db(transaction=True)
def test_a_purchase_the_rush_path_answered_is_an_order_like_any_other(twin_worlds):
    _, world = twin_worlds
    sale = world.sale()
    answer = call(RushPath(Counting()), purchase(world, sale, HTTP_X_DEVICE_ID="dev-9"))
    assert answer.status.startswith("202")
    pipeline.drain(sale_id=sale.pk)
    order = Order.objects.get(ticket=answer.json()["ticket"])
    assert (order.sale_id, order.user_id) == (sale.pk, world.made[-1].pk)


def _memo_attempts(world: World) -> list[dict]:
    """Every attempt of the world's sales, as the anti-scalper side reads it (memo attempts
    flushed first)."""
    from sales.gate import admission
    admission.memo_attempts_flush()
    buyers = {str(user.pk): n for n, user in enumerate(world.made)}  # ids differ by world
    return [{k: buyers.get(v, v) if k == "user" else v for k, v in fields.items()
             if k not in ("at", "ticket")}
            for pk in world.sales for _, fields in connection().xrange(SaleKeys(pk).attempts)]


# The memo-first lane (sales.rush._sold_out_lane): a sale this process knows sold out, a
# token it verified before, a body it validated before. Each variant is the request a shopper
# sends again once the sale sold out; some must leave the lane and be decided in full.
MEMO_VARIANTS = [
    ("again", {}, None),
    ("another device", {"HTTP_X_DEVICE_ID": "dev-2", "HTTP_USER_AGENT": "bot/1"}, None),
    ("an Idempotency-Key", {"HTTP_IDEMPOTENCY_KEY": "k-9"}, None),
    ("a bad Idempotency-Key", {"HTTP_IDEMPOTENCY_KEY": "x" * 65}, None),
    ("an F-code", {}, {"quantity": 1, "fcode": "ABCDE-FGHJK-MNPQR"}),
    ("a bad body", {}, b'{"quantity": 0}'),
    ("two spaces after Bearer", {"HTTP_AUTHORIZATION": None}, None),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name, headers, body", MEMO_VARIANTS, ids=[v[0] for v in MEMO_VARIANTS])
def test_a_sold_out_sale_answers_from_the_memo_as_django_does(twin_worlds, name, headers, body):
    """Status, headers, body, and the attempt the anti-scalper side gets, the same from both."""
    answers, attempts = [], []
    for world, app in zip(twin_worlds, (WSGIHandler(), RushPath(Counting())), strict=True):
        sale, user = world.sale(stock=1, limit=1), world.buyer()
        world.admit(sale, world.buyer())
        token = bearer(user)  # one token, sent again as a shopper's client does
        first = call(app, purchase(world, sale, user, HTTP_AUTHORIZATION=token))
        assert first.json()["error"]["code"] == "sold_out"  # a real sold_out: the memo is set
        extra = {"HTTP_AUTHORIZATION": token, **headers}
        if extra["HTTP_AUTHORIZATION"] is None:
            extra["HTTP_AUTHORIZATION"] = token.replace(" ", "  ")
        again = call(app, purchase(world, sale, user, body=body, **extra))
        answers.append(comparable(again, world))
        attempts.append(_memo_attempts(world))
    assert answers[0] == answers[1]
    assert attempts[0] == attempts[1]


@pytest.mark.django_db(transaction=True)
def test_the_memo_first_lane_is_taken_and_asks_redis_nothing(twin_worlds, monkeypatch):
    """The lane itself, not the full path: no Purchase built, the gate's script not called."""
    from sales import rush
    from sales.gate import admission

    _, world = twin_worlds
    sale, user = world.sale(stock=1, limit=1), world.buyer()
    world.admit(sale, world.buyer())
    app, token = RushPath(Counting()), bearer(user)
    call(app, purchase(world, sale, user, HTTP_AUTHORIZATION=token))
    built = []
    monkeypatch.setattr(rush.Purchase, "of_request",
                        classmethod(lambda cls, *a, **k: built.append(1)))
    monkeypatch.setattr(admission, "_hot_script", lambda *a: pytest.fail("asked the gate"))
    answer = call(app, purchase(world, sale, user, HTTP_AUTHORIZATION=token,
                                HTTP_X_DEVICE_ID="dev-7"))
    assert (answer.status, answer.json()["error"]["code"]) == ("409 Conflict", "sold_out")
    assert built == []
    assert [a["device"] for a in _memo_attempts(world) if a.get("memo") == "1"] == ["dev-7"]
