"""The storefront's sale pages, through Django's test client: the same gate as the API, every
refusal as a sentence, the live state as a small cacheable JSON, no trace on any error."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from antiscalper import services as antiscalper
from antiscalper.models import Appeal
from sales import services
from sales.gate.admission import Purchase
from sales.models import Reservation
from sales.modes import draws, fcodes, reservations
from sales.pipeline import orders as pipeline
from shop.models import Customer, Order, OrderStatus
from shop.tests.helpers import PASSWORD, csrf_post, page

pytestmark = pytest.mark.django_db

def shopper(customer) -> Client:
    client = Client()
    client.force_login(customer.user)
    return client


@pytest.mark.slow
def test_a_shopper_registers_buys_at_t0_follows_the_queue_and_pays(make_sale):
    sale = make_sale(stock=5, starts_in=1.5)
    browser = Client(enforce_csrf_checks=True)
    browser.get("/register/")
    registered = csrf_post(browser, "/register/", {
        "username": "mifan", "password": PASSWORD, "phone": "13900001111",
        "recipient": "Li Lei", "line1": "1 Nanjing Road", "city": "Shanghai",
        "postcode": "200001", "next": f"/sales/{sale.pk}/"})
    assert registered.status_code == 302 and registered["Location"] == f"/sales/{sale.pk}/"

    before = browser.get(f"/sales/{sale.pk}/")
    assert "Opens" in page(before) and f'action="/sales/{sale.pk}/buy"' in page(before)
    early = csrf_post(browser, f"/sales/{sale.pk}/buy", {"quantity": "1"})
    assert early.status_code == 409 and "has not started yet" in page(early)

    time.sleep(max((sale.starts_at - timezone.now()).total_seconds(), 0) + 0.05)
    address = Customer.objects.get(user__username="mifan").addresses.get()
    bought = csrf_post(browser, f"/sales/{sale.pk}/buy",
                       {"quantity": "1", "address_id": str(address.pk), "key": "k1"})
    assert bought.status_code == 302
    ticket_url = bought["Location"]

    queued = browser.get(ticket_url)
    assert "You are in the queue" in page(queued)
    assert 'http-equiv="refresh"' in page(queued) and "data-ticket=" in page(queued)
    state = browser.get(ticket_url + "state.json").json()
    assert state["status"] == "queued" and state["position"] == 1

    pipeline.drain(sale_id=sale.pk)
    confirmed = browser.get(ticket_url)
    order = Order.objects.get(sale_id=sale.pk)
    assert "Confirmed" in page(confirmed) and f'href="/orders/{order.pk}/"' in page(confirmed)
    assert 'http-equiv="refresh"' not in page(confirmed)

    checkout = browser.get(f"/orders/{order.pk}/")
    assert "1 Nanjing Road" in page(checkout) and "Pay now" in page(checkout)
    assert "data-deadline-ms" in page(checkout)
    key = re.search(r'name="key" value="([^"]+)"', page(checkout)).group(1)
    paid = csrf_post(browser, f"/orders/{order.pk}/pay", {"key": key})
    assert paid.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert "Paid. Thank you" in page(browser.get(f"/orders/{order.pk}/"))
    again = csrf_post(browser, f"/orders/{order.pk}/pay", {"key": "another"})
    assert again.status_code == 409 and "already paid" in page(again)


def test_a_sold_out_sale_says_so_in_a_sentence(make_sale, make_customer):
    sale = make_sale(stock=1)
    first, second = make_customer(), make_customer()
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=first.user_id))
    refused = shopper(second).post(f"/sales/{sale.pk}/buy", {"quantity": "1"})
    assert refused.status_code == 409
    assert "Sold out: every unit of this sale has been taken." in page(refused)
    assert f'href="/sales/{sale.pk}/"' in page(refused)


def test_a_reservation_sale_tells_a_shopper_without_one_and_lets_a_reserver_buy(
        make_sale, make_customer, django_capture_on_commit_callbacks):
    now = timezone.now()
    sale = make_sale(mode="reservation", reservation_opens_at=now - timedelta(hours=1),
                     reservation_closes_at=now + timedelta(hours=1))
    client = shopper(make_customer())
    refused = client.post(f"/sales/{sale.pk}/buy", {"quantity": "1"})
    assert refused.status_code == 409
    assert "only for shoppers who reserved" in page(refused)

    assert "Reserve" in page(client.get(f"/sales/{sale.pk}/"))
    with django_capture_on_commit_callbacks(execute=True):  # the gate learns after commit
        reserved = client.post(f"/sales/{sale.pk}/reserve", follow=True)
    assert "Reserved: you may buy when the sale opens." in page(reserved)
    assert Reservation.objects.filter(sale=sale).count() == 1
    assert client.post(f"/sales/{sale.pk}/buy", {"quantity": "1"}).status_code == 302


def test_reserving_outside_the_window_says_reservations_are_not_open(make_sale, make_customer):
    now = timezone.now()
    sale = make_sale(mode="reservation", reservation_opens_at=now + timedelta(hours=1),
                     reservation_closes_at=now + timedelta(hours=2), starts_in=10800)
    refused = shopper(make_customer()).post(f"/sales/{sale.pk}/reserve")
    assert refused.status_code == 409 and "Reservations for this sale are not open" in page(refused)


def test_an_fcode_holder_buys_with_the_code_and_a_wrong_code_is_explained(
        make_sale, make_customer):
    sale = make_sale(stock=3, fcode_quota=1, load=False)
    fan = make_customer(fan_level=3)
    [issued] = fcodes.fcodes_issue(sale_id=sale.pk, count=1, fan_level_min=3)
    services.gate_load(sale_id=sale.pk)
    client = shopper(fan)
    wrong = client.post(f"/sales/{sale.pk}/buy", {"quantity": "1", "fcode": "AAAAA-BBBBB-CCCCC"})
    assert wrong.status_code == 409 and "That F-code did not work" in page(wrong)
    bought = client.post(f"/sales/{sale.pk}/buy", {"quantity": "1", "fcode": issued.code})
    assert bought.status_code == 302
    pipeline.drain(sale_id=sale.pk)
    order = Order.objects.get(sale_id=sale.pk, user_id=fan.user_id)
    assert order.fcode.hint == issued.code.rsplit("-", 1)[-1]


def test_a_deposit_presale_takes_the_deposit_then_the_balance_in_its_window(
        make_sale, make_customer):
    now = timezone.now()
    sale = make_sale(stock=2, mode="deposit", deposit=Decimal("100.00"),
                     deposit_expansion=Decimal("50.00"),
                     balance_opens_at=now + timedelta(hours=2),
                     balance_closes_at=now + timedelta(hours=3))
    fan = make_customer()
    client = shopper(fan)
    sale_page = page(client.get(f"/sales/{sale.pk}/"))
    assert "deposit of ¥100.00" in sale_page and "balance of ¥1849.00" in sale_page
    client.post(f"/sales/{sale.pk}/buy", {"quantity": "1"})
    pipeline.drain(sale_id=sale.pk)
    order = Order.objects.get(sale_id=sale.pk)

    assert "Pay the deposit: ¥100.00" in page(client.get(f"/orders/{order.pk}/"))
    client.post(f"/orders/{order.pk}/pay", {"key": "deposit"})
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_BALANCE
    early = client.post(f"/orders/{order.pk}/pay", {"key": "balance-early"})
    assert early.status_code == 409 and "The balance can be paid from" in page(early)

    Order.objects.filter(pk=order.pk).update(balance_opens_at=timezone.now())  # window opens
    checkout = page(client.get(f"/orders/{order.pk}/"))
    assert "Pay the balance: ¥1849.00" in checkout and "deposit is kept" in checkout
    client.post(f"/orders/{order.pk}/pay", {"key": "balance"})
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


@pytest.mark.django_db(transaction=True)  # the blacklist mirror moves after commit
def test_a_blocked_shopper_sees_why_and_how_to_appeal(make_sale, make_customer):
    sale = make_sale()
    blocked = make_customer()
    antiscalper.blacklist_add(kind="account", value=str(blocked.user_id),
                              reason="one of 40 accounts on a single device")
    client = shopper(blocked)
    refused = client.post(f"/sales/{sale.pk}/buy", {"quantity": "1"})
    body = page(refused)
    assert refused.status_code == 403
    assert "cannot buy in this sale" in body
    assert "Your account is on our blocklist." in body
    assert "40 accounts" not in body  # ops' note: it would teach a scalper what to tune
    assert "How to appeal" in body and 'action="/appeal/"' in body
    empty = client.post("/appeal/", {"message": "  "})
    assert empty.status_code == 400 and "Please write a few words" in page(empty)

    sent = client.post("/appeal/", {"message": "I am a real fan, this is my only phone."},
                       follow=True)
    assert "Your appeal was sent" in page(sent)
    assert Appeal.objects.get(user_id=blocked.user_id).status == Appeal.Status.OPEN
    assert 'data-appeal="open"' in page(sent) and 'action="/appeal/"' not in page(sent)


@pytest.mark.django_db(transaction=True)  # the blacklist mirror moves after commit
def test_the_storefront_knows_a_browser_by_its_device_cookie(make_sale, make_customer):
    sale = make_sale(stock=5)
    client = shopper(make_customer())
    client.cookies["device_id"] = "farm-phone-7"  # set at log-in (shop.web)
    antiscalper.blacklist_add(kind="device", value="farm-phone-7", reason="a phone farm")
    refused = client.post(f"/sales/{sale.pk}/buy", {"quantity": "1"})
    assert refused.status_code == 403 and "cannot buy in this sale" in page(refused)


def test_too_many_attempts_say_when_to_retry_with_retry_after(make_sale, make_customer,
                                                              settings):
    settings.PURCHASE_RATE_LIMIT = 1
    sale = make_sale(limit=5)
    client = shopper(make_customer())
    assert client.post(f"/sales/{sale.pk}/buy", {"quantity": "1"}).status_code == 302
    limited = client.post(f"/sales/{sale.pk}/buy", {"quantity": "1"})
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert "Too many tries in a short time. Please wait" in page(limited)


def test_the_live_json_gives_the_server_clock_status_and_stock_to_everyone_alike(make_sale):
    sale = make_sale(stock=7, starts_in=60)
    response = Client().get(f"/sales/{sale.pk}/live.json")
    body = response.json()
    assert set(body) >= {"server_time", "status", "stock_left", "starts_at", "ends_at"}
    assert body["status"] == "scheduled" and body["stock_left"] == 7
    assert abs(body["server_ms"] / 1000 - time.time()) < 5
    assert "max-age=1" in response["Cache-Control"] and "public" in response["Cache-Control"]
    assert not response.cookies
    assert Client().get("/sales/999999/live.json").status_code == 404


def test_the_anonymous_sale_page_is_shared_and_costs_no_query_when_cached(
        make_sale, make_customer, django_assert_num_queries):
    sale = make_sale()
    first = Client().get(f"/sales/{sale.pk}/")
    assert "public" in first["Cache-Control"] and "Log in to buy" in page(first)
    assert "csrfmiddlewaretoken" not in page(first)
    with django_assert_num_queries(0):
        again = Client().get(f"/sales/{sale.pk}/")
    assert again.content == first.content

    mine = shopper(make_customer()).get(f"/sales/{sale.pk}/")
    assert "no-cache" in mine["Cache-Control"] or "private" in mine["Cache-Control"]
    assert f'action="/sales/{sale.pk}/buy"' in page(mine)
    assert "F-code" not in page(mine)  # a sale without an F-code quota asks for none


def test_the_sale_list_shows_live_upcoming_and_sold_out(make_sale, make_customer):
    live, upcoming, gone = make_sale(), make_sale(starts_in=3600), make_sale(stock=1)
    services.purchase_admit(purchase=Purchase(sale_id=gone.pk, user_id=make_customer().user_id))
    body = page(Client().get("/"))
    assert body.index("Live now") < body.index(f"/sales/{live.pk}/") < body.index("Coming up")
    assert body.index("Coming up") < body.index(f"/sales/{upcoming.pk}/") < body.index("Sold out")
    assert body.index("<h2>Sold out") < body.index(f"/sales/{gone.pk}/")


def test_a_draw_sale_takes_entries_and_shows_the_result(make_sale, make_customer):
    now = timezone.now()
    sale = make_sale(mode="draw", starts_in=7200, load=False,
                     reservation_opens_at=now - timedelta(hours=1),
                     reservation_closes_at=now + timedelta(hours=1))
    client = shopper(make_customer())
    assert "You did not enter this draw" in page(client.get(f"/sales/{sale.pk}/draw/"))
    entered = client.post(f"/sales/{sale.pk}/reserve", follow=True)
    assert "You are in the draw." in page(entered)
    assert "It has not been run yet" in page(client.get(f"/sales/{sale.pk}/draw/"))


def test_no_page_shows_a_trace_on_an_error(make_customer, monkeypatch):
    anonymous, client = Client(), shopper(make_customer())
    missing = anonymous.get("/sales/999999/")
    assert missing.status_code == 404 and "No such sale" in page(missing)
    bought = client.post("/sales/999999/buy", {"quantity": "1"})
    assert bought.status_code == 404 and "No such sale" in page(bought)
    assert client.get("/tickets/nonsense/").status_code == 404
    assert "Page not found" in page(anonymous.get("/no/such/page/"))
    bad = client.post("/sales/999999/buy", {"quantity": "many"})
    assert bad.status_code == 400 and "need another look" in page(bad)

    def explode(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("sales.selectors.sale_list", explode)
    crashed = Client(raise_request_exception=False).get("/")
    assert crashed.status_code == 500 and "Something went wrong on our side" in page(crashed)
    for response in (missing, bought, bad, crashed):
        assert "Traceback" not in page(response) and "database on fire" not in page(response)


def test_after_the_draw_a_winner_and_a_loser_each_read_their_result(make_sale, make_customer):
    now = timezone.now()
    sale = make_sale(mode="draw", stock=1, starts_in=7200, load=False,
                     reservation_opens_at=now - timedelta(hours=1),
                     reservation_closes_at=now + timedelta(hours=1))
    fans = [make_customer(), make_customer()]
    for fan in fans:
        reservations.reservation_create(sale_id=sale.pk, user_id=fan.user_id)
    draw = draws.draw_run(sale_id=sale.pk, now=now + timedelta(hours=2))
    winner = next(f for f in fans if f.user_id in draw.winners)
    loser = next(f for f in fans if f.user_id not in draw.winners)
    assert "You won! Buy your unit before" in page(
        shopper(winner).get(f"/sales/{sale.pk}/draw/"))
    assert "Not this time: you were not drawn" in page(
        shopper(loser).get(f"/sales/{sale.pk}/draw/"))


def test_polling_made_up_sales_keeps_nothing_in_the_live_memo(client, live_sale, monkeypatch):
    """The live memo holds real sales only, and at most LIVE_MEMO_MAX of them: polls of ids
    that name no sale cannot grow a web process's memory."""
    from sales.web import sale_pages

    for sale_id in range(10**9, 10**9 + 50):
        assert client.get(f"/sales/{sale_id}/live.json").status_code == 404
    assert sale_pages._live_memo == {}
    monkeypatch.setattr(sale_pages, "LIVE_MEMO_MAX", 1)
    client.get(f"/sales/{live_sale.pk}/live.json")
    sale_pages._live_memo[-1] = sale_pages._live_memo[live_sale.pk]  # another sale held
    sale_pages._live_memo[live_sale.pk] = (0, None, 0)               # and this one stale
    client.get(f"/sales/{live_sale.pk}/live.json")
    assert list(sale_pages._live_memo) == [live_sale.pk]
