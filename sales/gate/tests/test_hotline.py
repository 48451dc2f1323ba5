"""The admission script's own line to Redis: lost scripts, closed lines, and no retries."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from sales.api.tests.helpers import buy
from sales.gate import admission, holdings, hotline
from sales.models import FlashSale
from shop.tests.fixtures import client_for


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
    assert holdings.stock_left(sale_id=live_sale.pk) == live_sale.stock - 2


def test_a_line_closed_by_redis_while_idle_is_opened_again(
        make_customer, live_sale, redis_client, monkeypatch):
    monkeypatch.setattr(hotline, "IDLE_CHECK_SECONDS", 0.0)
    assert buy(client_for(make_customer().user), live_sale).status_code == 202
    redis_client.client_kill_filter(_id=_line_client_id(redis_client))
    assert buy(client_for(make_customer().user), live_sale).status_code == 202
    assert holdings.stock_left(sale_id=live_sale.pk) == live_sale.stock - 2


@pytest.mark.slow
def test_a_call_that_times_out_is_never_sent_twice(make_sale, make_customer, redis_client,
                                                   monkeypatch):
    """Redis stalls past the line's timeout after the purchase was sent: the buyer is told the
    outcome is unknown, with the ticket it would have. The line is closed, not used to send
    again: a paused client's command dies with its connection, so once Redis resumes nothing
    was sold (a retry on a new line would have run after the pause and sold the unit)."""
    monkeypatch.setattr(hotline, "IO_TIMEOUT_SECONDS", 1)
    sale = make_sale(stock=10, limit=5)
    buyer = client_for(make_customer().user)
    assert buy(buyer, sale).status_code == 202  # the line is open before the stall
    line = admission._hot_script("admit")
    sent = line.calls
    redis_client.execute_command("CLIENT", "PAUSE", "2000", "ALL")  # returns at once
    response = buy(buyer, sale)
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (503, "unavailable")
    assert error["details"]["outcome"] == "unknown"
    time.sleep(1.5)  # the pause is over
    assert line.calls - sent == 1  # sent once, never again
    assert holdings.stock_left(sale_id=sale.pk) == 10 - 1
    ticket = error["details"]["ticket"]
    assert buyer.get(f"/api/v1/tickets/{ticket}").status_code == 404  # it never ran
    assert buy(buyer, sale).status_code == 202  # the next call opens a new line


@pytest.mark.slow
def test_an_unknown_outcome_is_not_replaced_by_what_the_record_says_of_the_sale(
        make_sale, make_customer, redis_client, monkeypatch):
    """The record may say the sale has ended while the gate still sold: the buyer must hear
    that the outcome is unknown, not `ended`."""
    monkeypatch.setattr(hotline, "IO_TIMEOUT_SECONDS", 1)
    sale = make_sale(stock=10, limit=5)
    buyer = client_for(make_customer().user)
    assert buy(buyer, sale).status_code == 202
    FlashSale.objects.filter(pk=sale.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    redis_client.execute_command("CLIENT", "PAUSE", "1500", "ALL")
    error = buy(buyer, sale).json()["error"]
    assert (error["code"], error["details"]["outcome"]) == ("unavailable", "unknown")
    time.sleep(0.8)  # let the pause end before the next test
