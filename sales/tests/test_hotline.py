"""The admission script's own line to Redis: lost scripts, closed lines, and no retries."""

from __future__ import annotations

import threading
import time

import pytest

from conftest import client_for
from sales import gate, gate_keys, hotline
from sales.tests.test_purchase_api import buy

# Keeps Redis busy for two seconds (DEBUG SLEEP is refused by a default Redis 7).
STALL_2S = """
local function now() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end
local started = now()
while now() - started < 2000000 do end
return 1
"""


@pytest.fixture(autouse=True)
def _fresh_lines():
    hotline.forget()
    yield
    hotline.forget()


def _line_client_id(redis_client) -> int:
    """The id Redis gives this thread's line (the one connection that ran EVALSHA last)."""
    for client in redis_client.client_list():
        if client["cmd"] == "evalsha":
            return int(client["id"])
    raise AssertionError("no line has called the script")


def test_scripts_flushed_from_redis_are_loaded_again_without_a_refusal(
        make_customer, live_sale, redis_client):
    assert buy(client_for(make_customer().user), live_sale).status_code == 202
    redis_client.script_flush()
    assert buy(client_for(make_customer().user), live_sale).status_code == 202
    assert gate.stock_left(sale_id=live_sale.pk) == live_sale.stock - 2


def test_a_line_closed_by_redis_while_idle_is_opened_again(
        make_customer, live_sale, redis_client, monkeypatch):
    monkeypatch.setattr(hotline, "IDLE_CHECK_SECONDS", 0.0)
    assert buy(client_for(make_customer().user), live_sale).status_code == 202
    redis_client.client_kill_filter(_id=_line_client_id(redis_client))
    assert buy(client_for(make_customer().user), live_sale).status_code == 202
    assert gate.stock_left(sale_id=live_sale.pk) == live_sale.stock - 2


def test_a_call_that_times_out_is_never_sent_twice(make_customer, live_sale, redis_client,
                                                   monkeypatch):
    """Redis stalls past the line's timeout: the buyer is told `unavailable`, and the call is
    not retried, so however the stalled call ends, at most one unit goes."""
    monkeypatch.setattr(hotline, "IO_TIMEOUT_SECONDS", 1)
    assert buy(client_for(make_customer().user), live_sale).status_code == 202  # line opened
    stalled = threading.Thread(target=lambda: gate_keys.connection().eval(STALL_2S, 0))
    stalled.start()
    time.sleep(0.2)
    response = buy(client_for(make_customer().user), live_sale)
    stalled.join()
    assert (response.status_code, response.json()["error"]["code"]) == (503, "unavailable")
    time.sleep(0.2)
    assert gate.stock_left(sale_id=live_sale.pk) >= live_sale.stock - 2
    assert buy(client_for(make_customer().user), live_sale).status_code == 202
