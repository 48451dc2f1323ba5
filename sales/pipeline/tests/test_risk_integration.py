"""The anti-scalper module in the purchase path: signals recorded from the gate, blocked
tickets rejected before they become orders, linked clusters' orders cancelled after."""

from __future__ import annotations

import pytest

from antiscalper.models import AttemptSignal, RiskDecision
from antiscalper.tests.risk_helpers import HEADLESS
from sales import tasks
from sales.gate import admission, holdings
from sales.models import RejectedTicket
from sales.pipeline import orders as pipeline
from sales.pipeline import risk_feed
from sales.pipeline.tests.risk_helpers import BROWSER, buy, old
from shop import payments, services
from shop.models import Order
from shop.tests.fixtures import client_for

pytestmark = pytest.mark.django_db(transaction=True)  # units go back after commit

def test_a_headless_new_account_is_rejected_and_a_fan_gets_the_unit(make_sale, make_customer):
    sale = make_sale(stock=5)
    fan, bot = old(make_customer()), make_customer()
    fan_ticket = buy(fan, sale, HTTP_X_DEVICE_ID="fan-phone", **BROWSER).json()["ticket"]
    bot_ticket = buy(bot, sale, HTTP_USER_AGENT=HEADLESS, HTTP_X_DEVICE_ID="bot-1").json()[
        "ticket"]
    risk_feed.attempts_drain(sale_id=sale.pk)  # risk scored while the tickets are queued
    pipeline.drain(sale_id=sale.pk)

    assert Order.objects.filter(ticket=fan_ticket).exists()
    assert RejectedTicket.objects.get(ticket=bot_ticket).reason == "risk_blocked"
    decision = RiskDecision.objects.get(ticket=bot_ticket)
    assert decision.decision == "block"
    assert {"headless_agent", "new_account"} <= {rule["code"] for rule in decision.rules}
    assert RiskDecision.objects.get(ticket=fan_ticket).decision == "allow"
    assert holdings.stock_left(sale_id=sale.pk) == 4  # the bot's unit went back
    answer = client_for(bot.user).get(f"/api/v1/tickets/{bot_ticket}").json()
    assert (answer["status"], answer["reason"]) == ("rejected", "risk_blocked")


def test_a_bot_whose_order_was_written_first_loses_it_and_the_unit_returns(make_sale,
                                                                          make_customer):
    sale = make_sale(stock=5)
    bot = make_customer()
    ticket = buy(bot, sale, HTTP_USER_AGENT=HEADLESS, HTTP_X_DEVICE_ID="bot-2").json()["ticket"]
    pipeline.drain(sale_id=sale.pk)  # the order is written before risk is scored
    assert Order.objects.get(ticket=ticket).status == "awaiting_payment"
    risk_feed.attempts_drain(sale_id=sale.pk)
    assert Order.objects.get(ticket=ticket).status == "cancelled"
    assert holdings.stock_left(sale_id=sale.pk) == 5


def test_every_attempt_the_gate_decides_becomes_a_signal(make_sale, make_customer):
    sale = make_sale(stock=1)
    first, late = make_customer(), make_customer()
    buy(first, sale, **BROWSER)
    buy(late, sale, **BROWSER)
    buy(late, sale, **BROWSER)  # sold out: answered from the memo, buffered
    admission.memo_attempts_flush()  # (it may have flushed by itself already)
    risk_feed.attempts_drain(sale_id=sale.pk)
    verdicts = sorted(AttemptSignal.objects.filter(sale_id=sale.pk)
                      .values_list("verdict", flat=True))
    assert verdicts == ["admitted", "sold_out", "sold_out"]


def test_a_stealth_ring_found_by_linking_loses_its_orders_and_the_units_return(
        make_sale, make_customer):
    sale = make_sale(stock=10, limit=1)
    ring = [old(make_customer(with_address=False)) for _ in range(4)]
    fan = old(make_customer())
    for n, member in enumerate(ring):
        services.address_create(customer=member, recipient=f"R{n}", phone=member.phone,
                                line1="17 Quiet Street", city="Shenzhen", postcode="518000")
        buy(member, sale, HTTP_X_DEVICE_ID=f"ring-{n}", REMOTE_ADDR=f"36.{n}.1.1", **BROWSER)
    buy(fan, sale, HTTP_X_DEVICE_ID="fan", **BROWSER)
    risk_feed.attempts_drain(sale_id=sale.pk)
    pipeline.drain(sale_id=sale.pk)
    for member in ring + [fan]:
        order = Order.objects.get(sale_id=sale.pk, user_id=member.user_id)
        payments.order_pay(order_id=order.pk, user_id=member.user_id,
                           instrument="card-7777" if member in ring else "card-fan")

    # The card's first charged account is its established holder: the string alone cannot
    # tell it from a fan whose card the others copied, so the card does not tie it to them;
    # the three others, counted with it, are a ring of four (antiscalper.linking).
    assert tasks.sales_linking() == 3

    statuses = dict(Order.objects.filter(sale_id=sale.pk).values_list("user_id", "status"))
    assert {statuses[m.user_id] for m in ring[1:]} == {"refunded"}
    assert statuses[ring[0].user_id] == statuses[fan.user_id] == "paid"
    assert holdings.stock_left(sale_id=sale.pk) == 8
    assert tasks.sales_linking() == 0  # nothing left to cancel


def test_each_attempt_is_recorded_with_the_path_it_took(make_sale, make_customer):
    """A purchase without a code is a "purchase" attempt and one with a code an "fcode"
    attempt (the stream writes "0" or "1": both are non-empty strings)."""
    from sales import services as sales_services
    from sales.gate.admission import Purchase
    from sales.modes import fcodes

    sale = make_sale(stock=10, fcode_quota=4, load=False)
    fan, shopper = make_customer(fan_level=3), make_customer()
    [issued] = fcodes.fcodes_issue(sale_id=sale.pk, count=1, fan_level_min=3)
    assert issued.user_id == fan.user_id
    sales_services.gate_load(sale_id=sale.pk)
    sales_services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=fan.user_id,
                                                    fcode=issued.code))
    buy(shopper, sale, **BROWSER)
    risk_feed.attempts_drain(sale_id=sale.pk)
    kinds = dict(AttemptSignal.objects.filter(sale_id=sale.pk).values_list("user_id", "kind"))
    assert kinds == {fan.user_id: "fcode", shopper.user_id: "purchase"}
