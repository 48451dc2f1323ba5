"""Outside review 2: attacks on the hardening of issue 13 as merged on main.

Each test here failed on the code it was written against (branch wt-review2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from antiscalper.models import Decision, RiskDecision
from sales import tasks
from sales.models import RejectedTicket
from sales.pipeline import orders as pipeline
from sales.pipeline import risk_feed
from sales.pipeline.tests.risk_helpers import BROWSER, buy, old
from shop import payments, services
from shop.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def _copiers(make_customer, victim, *, count=3, phone=True, address=True):
    """Accounts that typed the victim's phone and address into their own address books."""
    victim_address = victim.addresses.get()
    copiers = [old(make_customer(with_address=False)) for _ in range(count)]
    for attacker in copiers:
        services.address_create(
            customer=attacker, recipient="Not the victim",
            phone=victim.phone if phone else attacker.phone,
            line1=victim_address.line1 if address else f"{attacker.pk} Elsewhere Road",
            city=victim_address.city if address else "Beijing",
            postcode=victim_address.postcode if address else "100000")
    return copiers


def test_copiers_who_struck_first_get_the_victims_own_purchase_risk_blocked(
        make_sale, make_customer):
    """The existing tests copy the victim's details *after* the victim bought. Here three
    throwaway accounts copy the victim's phone and address, and send the victim's device id,
    before the victim buys: the realtime score of the victim's own ticket then adds
    shared_phone + shared_address + device_accounts (claims only) and blocks it."""
    sale = make_sale(stock=10, limit=1)
    victim = old(make_customer())
    copiers = _copiers(make_customer, victim)
    for n, attacker in enumerate(copiers):
        buy(attacker, sale, HTTP_X_DEVICE_ID="victim-phone", REMOTE_ADDR=f"36.{n}.9.9",
            **BROWSER)
    risk_feed.attempts_drain(sale_id=sale.pk)
    pipeline.drain(sale_id=sale.pk)

    ticket = buy(victim, sale, HTTP_X_DEVICE_ID="victim-phone", REMOTE_ADDR="36.200.1.1",
                 **BROWSER).json()["ticket"]
    risk_feed.attempts_drain(sale_id=sale.pk)
    pipeline.drain(sale_id=sale.pk)

    decision = RiskDecision.objects.get(ticket=ticket)
    assert decision.decision != Decision.BLOCK, (decision.score, decision.reason,
                                                 [r["code"] for r in decision.rules])
    assert not RejectedTicket.objects.filter(ticket=ticket, reason="risk_blocked").exists()
    assert Order.objects.filter(ticket=ticket).exists()


def test_copiers_paying_with_the_victims_instrument_string_get_its_paid_order_refunded(
        make_sale, make_customer):
    """A succeeded payment is treated as a *proven* tie, but the gateway charges whatever
    instrument string it is sent. Three accounts pay their orders with the victim's
    instrument string: linking then counts a proven group of four and refunds the victim."""
    sale = make_sale(stock=10, limit=1)
    victim = old(make_customer())
    buy(victim, sale, HTTP_X_DEVICE_ID="victim-phone", REMOTE_ADDR="36.200.1.1", **BROWSER)
    risk_feed.attempts_drain(sale_id=sale.pk)
    pipeline.drain(sale_id=sale.pk)
    order = Order.objects.get(sale_id=sale.pk, user_id=victim.user_id)
    payments.order_pay(order_id=order.pk, user_id=victim.user_id, instrument="card-victim")

    attackers = [old(make_customer()) for _ in range(3)]
    for n, attacker in enumerate(attackers):
        buy(attacker, sale, HTTP_X_DEVICE_ID=f"throwaway-{n}", REMOTE_ADDR=f"36.{n}.9.9",
            **BROWSER)
    risk_feed.attempts_drain(sale_id=sale.pk)
    pipeline.drain(sale_id=sale.pk)
    for attacker in attackers:
        theirs = Order.objects.get(sale_id=sale.pk, user_id=attacker.user_id)
        payments.order_pay(order_id=theirs.pk, user_id=attacker.user_id,
                           instrument="card-victim")

    tasks.sales_linking()

    order.refresh_from_db()
    assert order.status == "paid"
    assert not RiskDecision.objects.filter(user_id=victim.user_id,
                                           decision=Decision.BLOCK).exists()


def test_an_account_blacklisted_by_its_registered_phone_still_enters_a_draw(
        draw_sale, make_customer):
    """docs/api.md: 403 `blocked` when the buyer *or one of its identities* is blacklisted. The
    reservation (a draw's entry) and the draw only check the account, device and IP, so an
    account whose registered phone is blacklisted enters the draw and can win a right."""
    from antiscalper import services as lists
    from sales.models import FlashSale
    from sales.modes import draws
    from shop.tests.fixtures import client_for

    sale = draw_sale(stock=1, closes_in=3600)
    listed = old(make_customer())
    lists.blacklist_add(kind="phone", value=listed.phone, reason="scalper phone",
                        expires_at=None, source="manual", actor_id=None)
    answer = client_for(listed.user).post(f"/api/v1/sales/{sale.pk}/reservations", {},
                                          format="json", HTTP_X_DEVICE_ID="d1")
    entered = answer.status_code in (200, 201)
    # and an entry that got in is drawn: the draw bars blacklisted *accounts* only
    FlashSale.objects.filter(pk=sale.pk).update(
        reservation_closes_at=timezone.now() - timedelta(seconds=1))
    draw = draws.draw_run(sale_id=sale.pk)
    assert not entered, answer.content
    assert listed.user_id not in draw.winners


def test_an_address_blacklist_value_that_normalises_past_300_chars_is_a_400_not_a_500(
        make_customer):
    """NFKC turns one U+FDFA into 18 letters: the normalised address is longer than the
    300-character column. PostgreSQL answers 500 (SQLite stores the oversized value)."""
    from django.contrib.auth import get_user_model

    from antiscalper.models import BlacklistEntry
    from shop.tests.fixtures import client_for

    root = get_user_model().objects.create_superuser("root2", "r@x.y", "pw-pw-pw-pw-1")
    answer = client_for(root).post("/api/v1/ops/blacklist", {
        "kind": "address", "value": "\ufdfa" * 200 + "|Shanghai|200001"}, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["code"] == "invalid"
    assert not BlacklistEntry.objects.filter(kind="address").exists()


def test_a_stock_return_deleted_in_admin_is_given_back_twice_and_the_counters_drift(
        make_sale, make_customer, client):
    """StockReturn (the record that an order gave its units back once) has a delete page.
    Deleting one makes the sweeper give the same order's units back again: the guard's
    counter then says fewer units are taken than the orders hold."""
    from django.contrib.auth import get_user_model

    from sales import services as sales
    from sales.invariants import counters_agree
    from sales.models import StockReturn

    sale = make_sale(stock=5, limit=1)
    buyers = [old(make_customer()) for _ in range(3)]
    for n, b in enumerate(buyers):
        buy(b, sale, HTTP_X_DEVICE_ID=f"dev-{n}", REMOTE_ADDR=f"36.{n}.1.1", **BROWSER)
    risk_feed.attempts_drain(sale_id=sale.pk)
    pipeline.drain(sale_id=sale.pk)
    order = Order.objects.get(sale_id=sale.pk, user_id=buyers[0].user_id)
    services.order_cancel(order_id=order.pk, user_id=buyers[0].user_id)
    sales.orders_expire_due()
    assert counters_agree(sale_id=sale.pk).met

    root = get_user_model().objects.create_superuser("root4", "r@x.y", "pw-pw-pw-pw-1")
    client.force_login(root)
    back = StockReturn.objects.get(order=order)
    client.post(f"/admin/sales/stockreturn/{back.pk}/delete/", {"post": "yes"})
    sales.orders_expire_due()

    check = counters_agree(sale_id=sale.pk)
    assert check.met, check
