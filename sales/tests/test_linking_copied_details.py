"""Copied details never cost their owner an order: accounts that type a victim's phone or
address into their address books, or send the victim's device id, are linked to each other,
but a claimed identity alone never cancels or blocks anyone (issue 13.3)."""

from __future__ import annotations

import pytest

from antiscalper.linking import clusters_find
from antiscalper.models import Decision, RiskDecision
from antiscalper.selectors import block_reasons
from sales import tasks
from sales.pipeline import orders as pipeline
from sales.pipeline import risk_feed
from sales.pipeline.tests.risk_helpers import BROWSER, buy, old
from shop import payments, services
from shop.models import Order

pytestmark = pytest.mark.django_db(transaction=True)  # units go back after commit


def _victim_with_a_paid_order(make_customer, sale):
    victim = old(make_customer())
    buy(victim, sale, HTTP_X_DEVICE_ID="victim-phone", REMOTE_ADDR="36.200.1.1", **BROWSER)
    risk_feed.attempts_drain(sale_id=sale.pk)
    pipeline.drain(sale_id=sale.pk)
    order = Order.objects.get(sale_id=sale.pk, user_id=victim.user_id)
    payments.order_pay(order_id=order.pk, user_id=victim.user_id, instrument="card-victim")
    return victim, order


def _attackers_try(make_customer, sale, victim, *, copy_phone=False, copy_address=False,
                   copy_device=False, count=3):
    address = victim.addresses.get()
    attackers = [make_customer(with_address=False) for _ in range(count)]
    for n, attacker in enumerate(attackers):
        services.address_create(
            customer=attacker, recipient="Not the victim",
            phone=victim.phone if copy_phone else attacker.phone,
            line1=address.line1 if copy_address else f"{n} Elsewhere Road",
            city=address.city if copy_address else "Beijing",
            postcode=address.postcode if copy_address else "100000")
        buy(attacker, sale, REMOTE_ADDR=f"36.{n}.9.9", **BROWSER,
            HTTP_X_DEVICE_ID="victim-phone" if copy_device else f"throwaway-{n}")
    risk_feed.attempts_drain(sale_id=sale.pk)
    pipeline.drain(sale_id=sale.pk)
    return attackers


def _victim_untouched(victim, order) -> None:
    order.refresh_from_db()
    assert order.status == "paid"
    assert not RiskDecision.objects.filter(user_id=victim.user_id,
                                           decision=Decision.BLOCK).exists()
    assert block_reasons(user_id=victim.user_id, device="victim-phone", ip="36.200.1.1") == []


def test_three_accounts_with_the_victims_phone_in_their_address_books_cost_it_nothing(
        make_sale, make_customer):
    sale = make_sale(stock=10, limit=1)
    victim, order = _victim_with_a_paid_order(make_customer, sale)
    attackers = _attackers_try(make_customer, sale, victim, copy_phone=True)

    tasks.sales_linking()

    _victim_untouched(victim, order)
    assert not RiskDecision.objects.filter(user_id=victim.user_id, source="linking").exists()
    assert {o.status for o in Order.objects.filter(user_id__in=[a.user_id for a in attackers],
                                                  sale_id=sale.pk)} <= {"awaiting_payment"}


def test_copying_the_victims_phone_address_and_device_at_once_reaches_review_at_most(
        make_sale, make_customer):
    """Five copiers make a cluster of six with the victim's address and device: every tie is
    a claim, so nobody is blocked or cancelled; ops get the leads to look at."""
    sale = make_sale(stock=10, limit=1)
    victim, order = _victim_with_a_paid_order(make_customer, sale)
    attackers = _attackers_try(make_customer, sale, victim, copy_phone=True,
                               copy_address=True, copy_device=True, count=5)

    assert tasks.sales_linking() == 0

    _victim_untouched(victim, order)
    flagged = set(RiskDecision.objects.filter(source="linking")
                  .values_list("user_id", "decision"))
    assert {a.user_id for a in attackers} <= {user for user, _ in flagged}
    assert {decision for _, decision in flagged} == {Decision.REVIEW}
    reason = RiskDecision.objects.filter(source="linking").first().reason
    assert "copyable details" in reason


def test_a_ring_that_paid_with_one_card_is_still_blocked_and_refunded(make_sale, make_customer):
    """The proven tie still works: accounts first charged on one card during the sale lose
    their orders. The card's first charged account is its established holder: the string
    alone cannot tell it from a fan whose card details the others copied, so it is not tied
    to them through the card (but the others, counted with it, are a ring of four)."""
    sale = make_sale(stock=10, limit=1)
    ring = [old(make_customer()) for _ in range(4)]
    for n, member in enumerate(ring):
        buy(member, sale, HTTP_X_DEVICE_ID=f"ring-{n}", REMOTE_ADDR=f"36.{n}.1.1", **BROWSER)
    risk_feed.attempts_drain(sale_id=sale.pk)
    pipeline.drain(sale_id=sale.pk)
    for member in ring:
        order = Order.objects.get(sale_id=sale.pk, user_id=member.user_id)
        payments.order_pay(order_id=order.pk, user_id=member.user_id, instrument="card-ring")

    assert tasks.sales_linking() == 3
    statuses = dict(Order.objects.filter(sale_id=sale.pk).values_list("user_id", "status"))
    assert statuses == {ring[0].user_id: "paid",
                        **{member.user_id: "refunded" for member in ring[1:]}}


def test_a_new_account_copying_an_old_accounts_phone_leaves_the_old_one_out_of_its_cluster(
        make_sale, make_customer):
    sale = make_sale(stock=10, limit=1)
    victim, _ = _victim_with_a_paid_order(make_customer, sale)
    _attackers_try(make_customer, sale, victim, copy_phone=True)
    (cluster,) = clusters_find(sale_id=sale.pk)
    assert victim.user_id not in cluster["members"] and cluster["size"] == 3
