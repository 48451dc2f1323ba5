"""The storefront in a real browser (headless Chromium through Playwright) against a live
server: what a shopper sees from registering to a paid order, and when the store says no.

The live server's thread and the test share the database and Redis, so every test is
transactional; the test plays the order pipeline itself (pipeline.drain)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from antiscalper import services as antiscalper
from antiscalper.models import Appeal
from sales import services
from sales.gate.admission import Purchase
from sales.models import Reservation
from sales.modes import fcodes
from sales.pipeline import orders as pipeline
from sales.web.tests.browser import TIMEOUT_MS
from shop.models import Order, OrderStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def new_page(pages):
    """A page logged in as `customer` if given, with or without JavaScript."""
    def make(customer=None, *, javascript: bool = True):
        return pages(customer.user if customer is not None else None,
                     java_script_enabled=javascript)
    return make


def ticket_of(page) -> str:
    return re.search(r"/tickets/([^/]+)/", page.url).group(1)


def wait_for_confirmation(page, expect, sale_id: int) -> None:
    """The queued ticket page follows its ticket by itself once the pipeline confirms it."""
    expect(page.locator(".ticket .sentence")).to_contain_text("You are in the queue")
    assert pipeline.drain(sale_id=sale_id) >= 1
    expect(page.locator(".ticket .sentence")).to_have_text(
        "Confirmed! Your order is waiting for payment.")


def test_a_shopper_registers_waits_for_t0_buys_follows_the_queue_and_pays(
        make_sale, new_page, expect, live_server):
    page = new_page()
    page.goto("/register/")
    page.get_by_label("Username").fill("mifan")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Mobile phone").fill("13900001111")
    page.get_by_label("Recipient").fill("Li Lei")
    page.get_by_label("Street and number").fill("1 Nanjing Road")
    page.get_by_label("City").fill("Shanghai")
    page.get_by_label("Postcode").fill("200001")
    page.get_by_role("button", name="Register").click()

    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".notes")).to_contain_text("Welcome, mifan! You are logged in.")

    # A sale opening in a few seconds (made now, so a slow registration cannot eat the wait).
    sale = make_sale(stock=5, starts_in=3)
    page.reload()
    upcoming = page.locator("h2:text-is('Coming up') + ul .sale-card")
    expect(upcoming).to_contain_text("Mi 6 launch")
    upcoming.get_by_role("link", name="Mi 6 launch").click()
    page.wait_for_url(f"**/sales/{sale.pk}/")
    buy = page.get_by_role("button", name="Buy now")
    countdown = page.locator("[data-countdown]")
    expect(countdown).to_have_text(re.compile(r"^Opens in 00:00:0[0-3]$"))
    expect(buy).to_be_disabled()
    expect(page.get_by_label("Deliver to")).to_contain_text("Li Lei, 1 Nanjing Road")

    # The button turns live by itself at the second the sale opens, on the server's clock.
    to_open_ms = (sale.starts_at - timezone.now()).total_seconds() * 1000
    expect(buy).to_be_enabled(timeout=to_open_ms + TIMEOUT_MS)
    expect(countdown).to_have_text(re.compile(r"^Ends in 00:59:\d\d$"))
    expect(page.locator("[data-status]")).to_have_text("On sale now")
    buy.click()

    page.wait_for_url("**/tickets/*/")
    expect(page.locator("[data-position]")).to_have_text("1")
    wait_for_confirmation(page, expect, sale.pk)
    order = Order.objects.get(sale_id=sale.pk, user__username="mifan")
    assert order.ticket == ticket_of(page)

    page.get_by_role("link", name="Go to checkout").click()
    page.wait_for_url(f"**/orders/{order.pk}/")
    expect(page.get_by_role("heading", name="Pay now: ¥1999.00")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Li Lei, 1 Nanjing Road, Shanghai 200001")
    left = re.compile(r"^\(\d\d:\d\d:\d\d left\)$")
    expect(page.locator("[data-deadline-ms]")).to_have_text(left)
    page.get_by_role("button", name="Pay now ¥1999.00").click()

    expect(page.locator(".notes")).to_contain_text("Paid. Thank you!")
    expect(page.locator(".status")).to_have_text("Paid")
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_have_count(0)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_a_bought_out_sale_shows_sold_out_and_says_so_in_a_sentence(
        make_sale, make_customer, new_page, expect):
    sale = make_sale(stock=1)
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=make_customer().user_id))
    shopper = make_customer()

    page = new_page(shopper)
    page.goto(f"/sales/{sale.pk}/")
    expect(page.locator("[data-status]")).to_have_text("Sold out")
    expect(page.locator("[data-stock]")).to_have_text("0")
    expect(page.locator("[data-countdown]")).to_have_text("Sold out")
    # A panel instead of the form (issue 18), saying units may come back.
    expect(page.locator("[data-sold-out] .sentence")).to_have_text(
        "Sold out: every unit has been taken for now.")
    expect(page.locator("[data-sold-out]")).to_contain_text("go back on sale")
    expect(page.get_by_role("button", name="Buy now")).to_have_count(0)

    # Without JavaScript the page says the same; a purchase sent anyway (an old tab) is
    # answered with a sentence and a way back.
    plain = new_page(shopper, javascript=False)
    plain.goto(f"/sales/{sale.pk}/")
    expect(plain.locator("[data-sold-out]")).to_be_visible()
    expect(plain.get_by_role("button", name="Buy now")).to_have_count(0)


def test_a_reservation_sale_tells_a_shopper_to_reserve_then_lets_them_buy(
        make_sale, make_customer, new_page, expect):
    now = timezone.now()
    sale = make_sale(mode="reservation", reservation_opens_at=now - timedelta(hours=1),
                     reservation_closes_at=now + timedelta(hours=1))
    shopper = make_customer()
    page = new_page(shopper)
    page.goto(f"/sales/{sale.pk}/")
    expect(page.locator(".mode")).to_contain_text("Reservation required: reserve between")

    page.get_by_role("button", name="Buy now").click()
    expect(page.locator(".refusal .sentence")).to_contain_text(
        "This sale is only for shoppers who reserved")
    page.get_by_role("link", name="Back").click()

    page.get_by_role("button", name="Reserve").click()
    expect(page.locator(".notes")).to_contain_text("Reserved: you may buy when the sale opens.")
    expect(page.locator("article p.note.success")).to_have_text("You have reserved this sale.")
    expect(page.get_by_role("button", name="Reserve")).to_have_count(0)
    assert Reservation.objects.filter(sale=sale, user_id=shopper.user_id).exists()

    page.get_by_role("button", name="Buy now").click()
    page.wait_for_url("**/tickets/*/")
    wait_for_confirmation(page, expect, sale.pk)


def test_an_fcode_holder_buys_with_the_code_typed_loosely(
        make_sale, make_customer, new_page, expect):
    sale = make_sale(stock=3, fcode_quota=1, load=False)
    fan = make_customer(fan_level=3)
    [issued] = fcodes.fcodes_issue(sale_id=sale.pk, count=1, fan_level_min=3)
    services.gate_load(sale_id=sale.pk)
    page = new_page(fan)
    page.goto(f"/sales/{sale.pk}/")
    expect(page.locator(".mode")).to_contain_text("1 units are kept for F-code holders")

    page.get_by_label("F-code (optional)").fill("AAAAA-BBBBB-CCCCC")
    page.get_by_role("button", name="Buy now").click()
    expect(page.locator(".refusal .sentence")).to_contain_text("That F-code did not work")
    page.get_by_role("link", name="Back").click()

    typed = " " + issued.code.lower().replace("-", " ") + " "
    page.get_by_label("F-code (optional)").fill(typed)
    page.get_by_role("button", name="Buy now").click()
    page.wait_for_url("**/tickets/*/")
    wait_for_confirmation(page, expect, sale.pk)
    order = Order.objects.get(sale_id=sale.pk, user_id=fan.user_id)
    assert order.fcode.hint == issued.code.rsplit("-", 1)[-1]


def test_a_deposit_presale_takes_the_deposit_then_the_balance_in_its_window(
        make_sale, make_customer, new_page, expect):
    now = timezone.now()
    sale = make_sale(stock=2, mode="deposit", deposit=Decimal("100.00"),
                     deposit_expansion=Decimal("50.00"),
                     balance_opens_at=now + timedelta(hours=2),
                     balance_closes_at=now + timedelta(hours=3))
    page = new_page(make_customer())
    page.goto(f"/sales/{sale.pk}/")
    expect(page.locator(".mode")).to_contain_text(
        "pay a deposit of ¥100.00 (it counts as ¥150.00) now, then the balance of ¥1849.00")
    page.get_by_role("button", name="Pay the deposit").click()
    page.wait_for_url("**/tickets/*/")
    wait_for_confirmation(page, expect, sale.pk)
    order = Order.objects.get(sale_id=sale.pk)

    page.get_by_role("link", name="Go to checkout").click()
    expect(page.get_by_role("heading", name="Pay the deposit: ¥100.00")).to_be_visible()
    page.get_by_role("button", name="Pay the deposit ¥100.00").click()
    expect(page.locator(".notes")).to_contain_text("Deposit paid. Your unit is held")
    expect(page.locator(".status")).to_have_text("Awaiting balance")
    expect(page.locator("main")).to_contain_text("The balance can be paid from")

    Order.objects.filter(pk=order.pk).update(balance_opens_at=timezone.now())  # window opens
    page.reload()
    expect(page.get_by_role("heading", name="Pay the balance: ¥1849.00")).to_be_visible()
    expect(page.locator("main")).to_contain_text("the deposit is kept")
    page.get_by_role("button", name="Pay the balance ¥1849.00").click()
    expect(page.locator(".notes")).to_contain_text("Paid. Thank you!")
    expect(page.locator(".status")).to_have_text("Paid")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_a_blocked_shopper_sees_why_and_how_to_appeal_and_appeals(
        make_sale, make_customer, new_page, expect):
    sale = make_sale()
    blocked = make_customer()
    antiscalper.blacklist_add(kind="account", value=str(blocked.user_id),
                              reason="one of 40 accounts on a single device")
    page = new_page(blocked)
    page.goto(f"/sales/{sale.pk}/")
    with page.expect_navigation() as refused:
        page.get_by_role("button", name="Buy now").click()
    assert refused.value.status == 403
    expect(page.get_by_role("heading", name="You cannot buy right now")).to_be_visible()
    expect(page.locator(".refusal .sentence")).to_have_text(
        "This account cannot buy in this sale right now.")
    expect(page.locator(".refusal .fields")).to_contain_text(
        "Your account is on our blocklist.")
    expect(page.locator(".refusal")).not_to_contain_text("40 accounts")
    expect(page.get_by_role("heading", name="How to appeal")).to_be_visible()

    page.get_by_label("Tell us why this is a mistake").fill(
        "I am a real fan, this is my only phone.")
    page.get_by_role("button", name="Send the appeal").click()
    page.wait_for_url("**/appeal/")
    expect(page.locator(".notes")).to_contain_text("Your appeal was sent.")
    expect(page.get_by_role("heading", name="Your appeal")).to_be_visible()
    expect(page.locator(".appeal-status")).to_contain_text("waiting for a person to read it")
    expect(page.get_by_role("button", name="Send the appeal")).to_have_count(0)
    assert Appeal.objects.get(user_id=blocked.user_id).status == Appeal.Status.OPEN
