"""Outside review of the rush path (sales.rush): a sale id past int()'s digit limit, the live
state while Redis or the database is down, and Django's request signals for a handed-off
request. Each test runs one request through both WSGI applications on twin worlds
(sales.tests.rush_harness); an exception out of the WSGI application is what a WSGI server
turns it into: a bare 500.

Every test here failed against the rush path as reviewed (commit 1bfcc5b); the docstrings
name the request, Django's answer and the rush path's."""

from __future__ import annotations

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError

from sales import selectors
from sales.rush import RushPath
from sales.tests.rush_harness import (
    Counting,
    bearer,
    both,
    purchase,
    request,
    served,
)

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


