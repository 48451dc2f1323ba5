"""An outside review of the sold-out lane (sales.rush._sold_out_lane), the memo attempts' Lua
flush (sales.gate.admission.memo_attempts_flush) and core.http's client signals: each test
here is a request or a failure for which the change answers or records other than it must."""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from django.core.handlers.wsgi import WSGIHandler

from sales.gate import admission
from sales.gate.keys import SaleKeys, connection
from sales.rush import RushPath
from sales.tests.rush_harness import Counting, bearer, call, comparable, purchase


def _sold_out_with_memo(world, app):
    """A sale this process knows sold out (its memo set by a real sold_out answer), a buyer
    and the token the buyer keeps sending."""
    sale, user = world.sale(stock=1, limit=1), world.buyer()
    world.admit(sale, world.buyer())
    token = bearer(user)
    first = call(app, purchase(world, sale, user, HTTP_AUTHORIZATION=token))
    assert first.json()["error"]["code"] == "sold_out"
    return sale, user, token


# ---------------------------------------------------------------------------------------------
# Memory: the new caches are keyed by the headers as sent, not as capped.

HEADER_SIZE = 8000  # under gunicorn's default limit_request_field_size (8190)
REQUESTS = 1000     # just under REMEMBERED_MAX (1024): no cache has cleared itself yet
RETAINED_MAX = 24 * 1024 * 1024


@pytest.mark.django_db(transaction=True)
def test_distinct_long_headers_do_not_pin_a_hundred_megabytes_in_the_lane_caches(
        twin_worlds, monkeypatch):
    """One shopper's client sends sold-out retries whose browser headers differ each time
    (8 KB each, as any server passes them). The attempt records only the capped values (the
    user agent's 200 characters, each header's 120, the device's 64), yet
    `RushConfig.signals`, `RushConfig.shapes` and `core.http._client_json`'s cache keep the
    full header strings of up to 1024 requests each: about 100 MB per worker, where the capped
    keys before this change (5da7ee2) kept about 2 MB for the same requests."""
    monkeypatch.setattr(admission, "SOLD_OUT_MEMO_SECONDS", 3600)
    _, world = twin_worlds
    app = RushPath(Counting())
    sale, user, token = _sold_out_with_memo(world, app)
    admission.memo_attempts_flush()
    filler = "x" * HEADER_SIZE
    names = ("HTTP_USER_AGENT", "HTTP_X_DEVICE_ID", "HTTP_ACCEPT_LANGUAGE",
             "HTTP_ACCEPT_ENCODING", "HTTP_SEC_CH_UA", "HTTP_SEC_CH_UA_MOBILE",
             "HTTP_SEC_CH_UA_PLATFORM", "HTTP_SEC_FETCH_SITE", "HTTP_SEC_FETCH_MODE",
             "HTTP_X_REQUESTED_WITH")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(REQUESTS):
            tag = f"{n:06d}"
            headers = {name: tag + filler for name in names}
            headers["HTTP_ACCEPT"] = "application/json, " + tag + filler
            headers["HTTP_COOKIE"] = "theme=" + tag + filler
            answer = call(app, purchase(world, sale, user, HTTP_AUTHORIZATION=token, **headers))
            assert answer.status == "409 Conflict"
            del headers, answer
        admission.memo_attempts_flush()
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert app.app.calls == 0  # the lane answered every one
    assert retained < RETAINED_MAX, f"{retained / 2**20:.0f} MB kept by the lane's caches"


# ---------------------------------------------------------------------------------------------
# The flush: one sale's failure loses every later sale's attempts of the batch.

def _record(sale_id: int, user_id: int) -> None:
    admission.memo_attempt_record(sale_id=sale_id, user_id=user_id, now_ms=1_000 + user_id,
                                  device="d", ip="10.0.0.1", client='{"ua":"","h":{}}')


def test_one_sales_refused_append_does_not_drop_the_other_sales_attempts(redis_client,
                                                                         monkeypatch):
    """Two sales in one memo batch; Redis refuses the first sale's append (its attempts key is
    not a stream: WRONGTYPE, a reply, not a broken line). The second sale's attempts are
    never sent: the loop's first RedisError ends the flush. The pipelined XADDs this change
    replaced got one reply per command, so the other sales' entries landed."""
    monkeypatch.setattr(admission, "MEMO_FLUSH_SIZE", 10_000)
    monkeypatch.setattr(admission, "MEMO_FLUSH_SECONDS", 3600)
    broken, fine = 9_201, 9_202
    redis_client.set(SaleKeys(broken).attempts, "not a stream")
    _record(broken, 1)
    _record(fine, 2)
    _record(fine, 3)
    admission.memo_attempts_flush()
    assert [int(f[b"user"]) for _, f in redis_client.xrange(SaleKeys(fine).attempts)] == [2, 3]


# ---------------------------------------------------------------------------------------------
# A setting Django's middleware answers by that the lane does not read.

@pytest.mark.django_db(transaction=True)
def test_prepend_www_redirects_a_sold_out_retry_in_django_and_the_lane_answers_409(
        twin_worlds, settings):
    """PREPEND_WWW=True: CommonMiddleware answers every request to a host without `www.`
    with a 301 (POST included), before any view, so nothing is decided or recorded. RushConfig
    does not read PREPEND_WWW: the lane (and the full rush path) answers the 409 and records
    a memo attempt. (Not new in this change, but the lane inherits it.)"""
    answers, attempts = [], []
    worlds = twin_worlds
    apps = (WSGIHandler(), RushPath(Counting()))
    setup = [_sold_out_with_memo(world, app) for world, app in zip(worlds, apps, strict=True)]
    admission.memo_attempts_flush()
    before = [sum(connection().xlen(SaleKeys(pk).attempts) for pk in w.sales) for w in worlds]
    settings.PREPEND_WWW = True
    for world, app, (sale, user, token), seen in zip(worlds, apps, setup, before, strict=True):
        answers.append(comparable(call(app, purchase(world, sale, user,
                                                     HTTP_AUTHORIZATION=token)), world))
        admission.memo_attempts_flush()
        attempts.append(sum(connection().xlen(SaleKeys(pk).attempts) for pk in world.sales)
                        - seen)
    assert answers[1] == answers[0]
    assert attempts[1] == attempts[0]
