"""Outside review of 086664a (the leaner rush path) and 0f6b6fd / 9f57ea0 (the bench's limit).

Each test states what it attacks. Tests marked "holds" passed against the change and stay as
regression guards; the others failed against it (see the report on the wt-review branch)."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from datetime import timedelta

import pytest
import redis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from rest_framework_simplejwt import state as simplejwt_state
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.tokens import AccessToken

from core.errors import DomainError
from sales import rush_token
from sales.gate import admission, hotline
from sales.gate.keys import SaleKeys, connection, ticket_issued_ms, ticket_new
from sales.rush import RushPath
from sales.tests.rush_harness import (
    Counting,
    both,
    call,
    comparable,
    purchase,
    served,
    signed,
    simplejwt_user,
    token_of,
)

# ---- the ticket MAC: hmac.new(...).hexdigest()[:16] -> hmac.digest(...)[:8].hex() -------------

def _old_mac(sale_id: int, user_id: int, nonce: str, stamp: str) -> str:
    from sales.gate.keys import _ticket_key
    message = f"{sale_id}|{user_id}|{nonce}|{stamp}".encode()
    return hmac.new(_ticket_key(), message, hashlib.sha256).hexdigest()[:16]


@pytest.mark.parametrize("sale_id, user_id", [(1, 1), (999_999_999_999, 2**62), (7, 0)])
def test_holds_tickets_issued_with_the_old_mac_still_verify(sale_id, user_id):
    """holds: a ticket minted before the change (old MAC formula) verifies after it, and a
    new ticket's MAC equals the old formula's."""
    issued = 1_767_000_000_123
    for _ in range(50):
        new = ticket_new(sale_id, user_id=user_id, issued_ms=issued)
        sale, nonce, stamp, mac = new.split("-")
        assert mac == _old_mac(sale_id, user_id, nonce, stamp)
        old = f"{sale}-{nonce}-{stamp}-{_old_mac(sale_id, user_id, nonce, stamp)}"
        assert ticket_issued_ms(old, user_id=user_id) == issued
        assert ticket_issued_ms(old, user_id=user_id + 1) is None


# ---- remembered tokens ----------------------------------------------------------------------

def _short_token(user, seconds: float) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return str(token)


@pytest.mark.django_db(transaction=True)
def test_holds_the_same_remembered_token_after_its_exp(twin_worlds):
    """holds: the same string, verified and remembered while valid, refused once expired."""
    apps = (WSGIHandler(), RushPath(Counting()))
    setups = []
    for world in twin_worlds:
        sale, user = world.sale(limit=5), world.buyer()
        setups.append((world, sale, user, _short_token(user, 2)))
    firsts = [comparable(served(app, purchase(w, s, u, HTTP_AUTHORIZATION=f"Bearer {t}")), w)
              for app, (w, s, u, t) in zip(apps, setups, strict=True)]
    assert firsts[0] == firsts[1] and firsts[0][0].startswith("202")
    time.sleep(2.2)
    seconds = [comparable(served(app, purchase(w, s, u, HTTP_AUTHORIZATION=f"Bearer {t}")), w)
               for app, (w, s, u, t) in zip(apps, setups, strict=True)]
    assert seconds[0][0].startswith("401")
    assert seconds[1] == seconds[0]


@pytest.mark.django_db
def test_holds_int_and_string_user_ids_answer_alike_first_and_remembered(settings):
    """holds: user_id 5 and "5" (and "007"): the remembered answer is the first answer."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    for user_id, expected in ((5, 5), ("5", 5), ("007", 7)):
        token = signed(header, {"token_type": "access", "exp": now + 60, "iat": now,
                                "jti": f"j{user_id}", "user_id": user_id})
        assert rush_token.access_token_user(token) == expected
        assert rush_token.access_token_user(token) == expected  # remembered
        assert simplejwt_user(token) == expected


@pytest.mark.django_db
def test_holds_leeway_edges_first_and_remembered(settings):
    """holds: exp just past with a leeway, iat just ahead with a leeway, as simplejwt."""
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "LEEWAY": 30}
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    for exp, iat, accepted in ((now - 10, now - 100, True), (now - 40, now - 100, False),
                               (now + 60, now + 20, True), (now + 60, now + 40, False)):
        token = signed(header, {"token_type": "access", "exp": exp, "iat": iat, "jti": "j",
                                "user_id": 3})
        for _ in range(2):
            assert (rush_token.access_token_user(token) == 3) is accepted, (exp - now, iat - now)


@pytest.mark.django_db
def test_holds_a_token_remembered_under_the_old_signing_key_is_not_accepted_after_it_changed(
        settings, monkeypatch, customer):
    """holds: verified (and remembered) under key A; SIGNING_KEY becomes B (simplejwt's
    backend as a process started with B has it): the old string is refused by both checks."""
    token = token_of(customer.user)
    assert rush_token.access_token_user(token) == customer.user.pk
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": "another key entirely"}
    monkeypatch.setattr(simplejwt_state, "token_backend",
                        TokenBackend("HS256", "another key entirely"))
    assert rush_token.access_token_user(token) is None
    assert simplejwt_user(token) is None


@pytest.mark.django_db
def test_holds_very_many_distinct_tokens_over_threads_each_get_its_own_user(monkeypatch):
    """holds: 8 threads, 4000 distinct tokens, a bound of 64 (cleared over and over while
    other threads read): no token ever answers for another user."""
    monkeypatch.setattr(rush_token, "REMEMBERED_MAX", 64)
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    tokens = [(uid, signed(header, {"token_type": "access", "exp": now + 600, "iat": now,
                                    "jti": f"j{uid}", "user_id": uid}))
              for uid in range(1, 501)]
    wrong, barrier = [], threading.Barrier(8)

    def hammer(offset: int) -> None:
        barrier.wait()
        for round_ in range(8):
            for uid, token in tokens[offset::3] + tokens[:offset]:
                got = rush_token.access_token_user(token)
                if got != uid:
                    wrong.append((uid, got, round_))

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


# ---- settings changed at runtime ---------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_holds_allowed_hosts_and_hsts_changed_after_a_first_request(twin_worlds, settings):
    """holds: the config snapshot is rebuilt when a setting changes."""
    django_world, rush_world = twin_worlds
    call(RushPath(Counting()), purchase(rush_world, rush_world.sale()))
    settings.ALLOWED_HOSTS = ["shop.example"]
    settings.SECURE_REFERRER_POLICY = "no-referrer"
    for host in ("testserver", "shop.example"):
        rush, django = both(twin_worlds,
                            lambda w, host=host: {**purchase(w, w.sale()), "HTTP_HOST": host})
        assert rush[0] == django[0]


# ---- every 503 has Retry-After -----------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_busy_503_says_when_to_retry(twin_worlds, settings):
    """Invariant: every 503 has Retry-After. `busy` (the sale's queue at GATE_QUEUE_BOUND) is
    a 503 without one, from Django and from the rush path alike: api_exception_handler sets
    Retry-After for `unavailable` and `rate_limited` only. (Not new in 086664a; the rush
    path's refusal memo faithfully copies it.)"""
    settings.GATE_QUEUE_BOUND = 1

    def build(world):
        sale = world.sale(stock=10, limit=1)
        world.admit(sale, world.buyer())
        return purchase(world, sale)

    rush, django = both(twin_worlds, build)
    assert rush == django
    status, headers, body = rush[0]
    assert status.startswith("503") and body["error"]["code"] == "busy"
    assert "retry-after" in headers


# ---- memo attempts: packed XADDs over the thread's hot line ----------------------------------

def _sold_out_memo(world):
    sale = world.sale(stock=1)
    world.admit(sale, world.buyer())
    with pytest.raises(DomainError, match="Sold out"):
        world.admit(sale, world.buyer())  # a real sold_out from admit.lua: the memo is set
    return sale


@pytest.mark.django_db(transaction=True)
def test_holds_a_memo_attempt_has_the_fields_admit_lua_writes(twin_worlds, monkeypatch):
    """holds: the memo's XADD carries admit.lua's attempt fields (plus memo=1), same values."""
    monkeypatch.setattr(admission, "MEMO_FLUSH_SIZE", 1)
    _, world = twin_worlds
    sale = _sold_out_memo(world)
    answer = call(RushPath(Counting()), purchase(world, sale, HTTP_X_DEVICE_ID="dev-7",
                                                 HTTP_USER_AGENT="Mozilla/5.0"))
    assert answer.status.startswith("409")
    entries = [fields for _, fields in connection().xrange(SaleKeys(sale.pk).attempts)]
    lua = [e for e in entries if "memo" not in e and e["verdict"] == "sold_out"]
    memo = [e for e in entries if e.get("memo") == "1"]
    assert lua and len(memo) == 1
    assert set(memo[0]) - {"memo"} == set(lua[0])
    assert memo[0]["device"] == "dev-7" and "Mozilla/5.0" in memo[0]["client"]
    assert memo[0]["user"] == str(world.made[-1].pk)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("failure", ["refused", "broken after send"])
def test_holds_a_redis_failure_during_the_memo_flush_is_still_the_409(twin_worlds, monkeypatch,
                                                                       failure):
    """holds: the flush over the hot line fails (connection refused, or the line breaks after
    the XADDs were sent): the shopper gets the sold-out 409 as Django does, no 5xx, and the
    thread's line works for the next admission."""
    monkeypatch.setattr(admission, "MEMO_FLUSH_SIZE", 1)

    original = hotline.HotLine.__call__

    def broken(self, **call):
        if "memo=1" not in self._script.script:  # only the memo's line breaks
            return original(self, **call)
        raise (redis.ConnectionError("refused") if failure == "refused"
               else hotline.OutcomeUnknown("broken after send"))

    rush_w, django_w = twin_worlds[1], twin_worlds[0]
    sales = [_sold_out_memo(django_w), _sold_out_memo(rush_w)]
    with monkeypatch.context() as patch:
        patch.setattr(hotline.HotLine, "__call__", broken)
        rush_answer = served(RushPath(Counting()), purchase(rush_w, sales[1]))
        django_answer = served(WSGIHandler(), purchase(django_w, sales[0]))
    assert comparable(rush_answer, rush_w) == comparable(django_answer, django_w)
    assert rush_answer.status.startswith("409")
    fresh = rush_w.sale()
    assert served(RushPath(Counting()), purchase(rush_w, fresh)).status.startswith("202")


# ---- the database fallback between request signals --------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_holds_the_gate_lost_fallback_closes_its_connection_and_an_admission_opens_none(
        twin_worlds, monkeypatch):
    """holds: with CONN_MAX_AGE=0, in a fresh thread: a purchase whose gate lost its keys asks
    the database between the request signals (closed after), and a plain admission never
    touches the database (no connection opened without signals to close it)."""
    from django.db import connections
    # SQLite runs with CONN_MAX_AGE=0 already; PostgreSQL keeps connections 60 s. A thread's
    # connection is built from this dict, so setting it here makes the test the same on both.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    _, world = twin_worlds
    lost = world.sale()
    connection().delete(SaleKeys(lost.pk).meta)
    ok = world.sale()
    seen = {}
    environs = {"lost": purchase(world, lost), "ok": purchase(world, ok)}

    def run():
        from django.db import connections
        for name, environ in environs.items():
            answer = call(RushPath(Counting()), environ)
            seen[name] = (answer.status, connections["default"].connection is None)
        connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen["lost"] == ("503 Service Unavailable", True)
    assert seen["ok"] == ("202 Accepted", True)


@pytest.mark.django_db(transaction=True)
def test_holds_a_stale_connection_is_dropped_before_the_fallback_reads(twin_worlds):
    """holds: the thread's connection is past CONN_MAX_AGE when a purchase on an unloaded
    gate needs the database: request_started closes it first, as Django's handler does, so
    the fallback reads on a fresh one."""
    _, world = twin_worlds
    lost = world.sale()
    connection().delete(SaleKeys(lost.pk).meta)
    environ = purchase(world, lost)
    seen = {}

    def run():
        from django.db import connections
        conn = connections["default"]
        conn.ensure_connection()
        old = conn.connection
        conn.close_at = time.monotonic() - 1  # past its CONN_MAX_AGE
        answer = call(RushPath(Counting()), environ)
        seen["status"] = answer.status
        seen["reused_stale"] = conn.connection is old
        connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == {"status": "503 Service Unavailable", "reused_stale": False}


@pytest.mark.django_db(transaction=True)
def test_a_purchase_the_rush_path_answers_is_a_request_to_signal_receivers(twin_worlds):
    """Django sends request_started/request_finished once per purchase; the rush path skips
    them for a purchase Redis alone decided only while nobody but Django listens. A receiver
    counting or tracing requests (connected here) hears every purchase from both."""
    started = []

    def count(sender, **kwargs):
        started.append(sender)

    counts = []
    signals.request_started.connect(count)
    try:
        for world, app in zip(twin_worlds, (WSGIHandler(), RushPath(Counting())), strict=True):
            started.clear()
            answer = served(app, purchase(world, world.sale()))
            assert answer.status.startswith("202")
            counts.append(len(started))
    finally:
        signals.request_started.disconnect(count)
    assert counts[1] == counts[0] == 1


# ---- a snapshot built across a setting change ---------------------------------------------------

@pytest.mark.django_db
def test_a_snapshot_built_while_a_setting_changes_is_not_kept_stale(settings, monkeypatch):
    """Cosmetic (runtime setting changes are test-only): FromSettings has no generation
    check. A thread that started building rush_config() before a setting changed stores its
    (old) value after clear_all ran, and the stale snapshot then stays until the next change:
    here ALLOWED_HOSTS is ["shop.example"] but the rush path keeps allowing "testserver"."""
    from sales import rush_config as rc

    rc.rush_config.clear()
    read, go = threading.Event(), threading.Event()
    real_init = rc.RushConfig.__init__

    def slow_init(self):
        real_init(self)  # settings read here, before the change
        read.set()
        go.wait(5)

    monkeypatch.setattr(rc.RushConfig, "__init__", slow_init)
    builder = threading.Thread(target=rc.rush_config)
    builder.start()
    read.wait(5)
    settings.ALLOWED_HOSTS = ["shop.example"]  # setting_changed -> clear_all
    go.set()
    builder.join()
    monkeypatch.setattr(rc.RushConfig, "__init__", real_init)
    assert rc.rush_config().host_allowed({"HTTP_HOST": "testserver"}) is False


@pytest.mark.django_db(transaction=True)
def test_a_listened_to_purchase_the_database_explains_is_still_one_request(twin_worlds):
    """With a foreign receiver connected and the gate lost (the database asked why), both
    applications send request_started exactly once: the fallback's signals are not nested."""
    started = []

    def count(sender, **kwargs):
        started.append(sender)

    counts = []
    signals.request_started.connect(count)
    try:
        for world, app in zip(twin_worlds, (WSGIHandler(), RushPath(Counting())), strict=True):
            sale = world.sale()
            connection().delete(SaleKeys(sale.pk).meta)
            started.clear()
            answer = served(app, purchase(world, sale))
            assert answer.status.startswith("503")
            counts.append(len(started))
    finally:
        signals.request_started.disconnect(count)
    assert counts == [1, 1]
