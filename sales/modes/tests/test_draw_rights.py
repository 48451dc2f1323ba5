"""Winners' purchase rights: a winner buys one unit without a code, a loser cannot, and rights
left unused (or units left unpaid) pass down the waitlist in reservation order.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import DomainError
from sales import services
from sales.gate import holdings
from sales.gate.admission import Purchase
from sales.models import FCode
from sales.modes import draws
from sales.modes.tests.draw_helpers import buy, client_of, drawn, holding
from sales.pipeline import orders as pipeline
from sales.pipeline.reconcile import sale_reconcile
from shop import payments
from shop.models import Order, OrderStatus


@pytest.mark.django_db
def test_a_winner_buys_without_a_code_and_the_pipeline_makes_one_order(draw_sale, buyer_ids):
    sale, draw, _ = drawn(draw_sale, buyer_ids, stock=2, entrants=6)
    winner = draw.winners[0]

    response = buy(client_of(winner), sale)
    assert response.status_code == 202
    pipeline.drain(sale_id=sale.pk)

    order = Order.objects.get(sale_id=sale.pk, user_id=winner)
    assert (order.status, order.total, order.ticket) == (
        OrderStatus.AWAITING_PAYMENT, sale.price, response.json()["ticket"])
    assert FCode.objects.get(sale=sale, user_id=winner).order_id == order.pk
    assert client_of(winner).get(f"/api/v1/sales/{sale.pk}/draw").json()["used"] is True


@pytest.mark.django_db
def test_a_loser_has_no_purchase_right(draw_sale, buyer_ids):
    sale, draw, _ = drawn(draw_sale, buyer_ids, stock=2, entrants=6)

    for loser in draw.waitlist:
        response = buy(client_of(loser), sale)
        assert (response.status_code, response.json()["error"]["code"]) == (
            409, "no_purchase_right")

    assert holdings.state(sale_id=sale.pk).fcode_stock_left == 2
    assert pipeline.drain(sale_id=sale.pk) == 0
    assert not Order.objects.filter(sale_id=sale.pk).exists()


@pytest.mark.django_db
def test_a_winner_cannot_buy_twice(draw_sale, buyer_ids):
    sale, draw, _ = drawn(draw_sale, buyer_ids, stock=2, entrants=6)
    client = client_of(draw.winners[0])
    assert buy(client, sale).status_code == 202
    pipeline.drain(sale_id=sale.pk)

    again = buy(client, sale)

    assert again.status_code == 409
    assert again.json()["error"]["code"] in ("fcode_invalid", "limit_reached")
    pipeline.drain(sale_id=sale.pk)
    assert Order.objects.filter(sale_id=sale.pk).count() == 1
    assert holdings.state(sale_id=sale.pk).fcode_stock_left == 1
    assert holding(sale) <= sale.stock


# --- rights passing down the waitlist (units go back after commit: real commits) -------------

@pytest.mark.django_db(transaction=True)
def test_an_unused_right_lapses_and_passes_to_the_next_entrant_in_reservation_order(
        draw_sale, buyer_ids):
    sale, draw, users = drawn(draw_sale, buyer_ids, stock=1, entrants=4)
    [winner] = draw.winners
    right = FCode.objects.get(sale=sale, user_id=winner)
    # entrants reserved in reverse id order: the next in line is the latest id not drawn
    next_in_line = [u for u in reversed(users) if u != winner][0]
    assert draw.waitlist[0] == next_in_line

    assert draws.draw_rights_pass_on(sale_id=sale.pk,
                                     now=right.expires_at - timedelta(seconds=1)) == 0
    lapse = right.expires_at + timedelta(seconds=1)
    assert draws.draw_rights_pass_on(sale_id=sale.pk, now=lapse) == 1
    assert draws.draw_rights_pass_on(sale_id=sale.pk, now=lapse) == 0

    right.refresh_from_db()
    assert right.lapsed_at == lapse and right.order_id is None
    passed = FCode.objects.get(sale=sale, kind=FCode.Kind.RIGHT, lapsed_at__isnull=True)
    assert passed.user_id == next_in_line
    buy_at = lapse + timedelta(seconds=5)
    with pytest.raises(DomainError) as late:
        services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=winner), now=buy_at)
    assert late.value.code in ("fcode_invalid", "no_purchase_right")

    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=next_in_line), now=buy_at)
    pipeline.drain(sale_id=sale.pk)

    order = Order.objects.get(sale_id=sale.pk)
    assert (order.user_id, order.status) == (next_in_line, OrderStatus.AWAITING_PAYMENT)
    passed.refresh_from_db()
    assert passed.order_id == order.pk
    assert holding(sale) == 1 <= sale.stock
    assert sale_reconcile(sale_id=sale.pk).clean


@pytest.mark.django_db(transaction=True)
def test_an_unpaid_winners_expired_order_gives_its_unit_to_the_next_waitlisted_entrant(
        draw_sale, buyer_ids):
    sale, draw, _ = drawn(draw_sale, buyer_ids, stock=2, entrants=5)
    payer, dawdler = draw.winners
    for winner in draw.winners:
        assert buy(client_of(winner), sale).status_code == 202
    pipeline.drain(sale_id=sale.pk)
    paid = payments.order_pay(order_id=Order.objects.get(user_id=payer).pk, user_id=payer)
    assert paid.status == OrderStatus.PAID
    unpaid = Order.objects.get(user_id=dawdler)
    assert holdings.state(sale_id=sale.pk).fcode_stock_left == 0

    later = unpaid.payment_due_at + timedelta(seconds=1)
    assert services.orders_expire_due(now=later) == 1
    assert holdings.state(sale_id=sale.pk).fcode_stock_left == 1
    assert draws.draw_rights_pass_on(sale_id=sale.pk, now=later) == 1

    next_in_line = draw.waitlist[0]
    passed = FCode.objects.get(sale=sale, kind=FCode.Kind.RIGHT, order__isnull=True)
    assert passed.user_id == next_in_line
    with pytest.raises(DomainError):
        services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=dawdler), now=later)
    with pytest.raises(DomainError) as outsider:
        services.purchase_admit(purchase=Purchase(
            sale_id=sale.pk, user_id=draw.waitlist[1]), now=later)
    assert outsider.value.code == "no_purchase_right"
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=next_in_line), now=later)
    pipeline.drain(sale_id=sale.pk)

    assert Order.objects.get(user_id=next_in_line).status == OrderStatus.AWAITING_PAYMENT
    assert sorted(Order.objects.filter(sale_id=sale.pk).values_list("status", flat=True)) == [
        OrderStatus.AWAITING_PAYMENT, OrderStatus.EXPIRED, OrderStatus.PAID]
    assert holding(sale) == 2 == sale.stock
    assert draws.draw_rights_pass_on(sale_id=sale.pk, now=later) == 0
    assert sale_reconcile(sale_id=sale.pk).clean


@pytest.mark.django_db(transaction=True)
def test_a_drawn_sale_whose_rights_are_not_used_yet_reconciles_clean(draw_sale, buyer_ids):
    sale, draw, _ = drawn(draw_sale, buyer_ids, stock=3, entrants=6)
    assert buy(client_of(draw.winners[0]), sale).status_code == 202
    pipeline.drain(sale_id=sale.pk)

    drift = sale_reconcile(sale_id=sale.pk)

    assert drift.clean, drift.as_dict()
    assert holding(sale) == 1


@pytest.mark.django_db(transaction=True)
def test_rounds_of_lapses_and_expiries_never_hold_more_units_than_the_stock(draw_sale,
                                                                           buyer_ids):
    sale, draw, users = drawn(draw_sale, buyer_ids, stock=3, entrants=12)
    rng, moment = random.Random(5), timezone.now()

    for _ in range(5):
        services.orders_expire_due(now=moment)
        draws.draw_rights_pass_on(sale_id=sale.pk, now=moment)
        rights = FCode.objects.filter(sale=sale, kind=FCode.Kind.RIGHT)
        holders = set(rights.filter(lapsed_at__isnull=True, order__isnull=True)
                      .values_list("user_id", flat=True))
        for user in users:
            if user in holders and rng.random() < 0.6:
                services.purchase_admit(purchase=Purchase(
                    sale_id=sale.pk, user_id=user), now=moment)
            elif not rights.filter(user_id=user).exists():
                with pytest.raises(DomainError) as refused:
                    services.purchase_admit(purchase=Purchase(
                        sale_id=sale.pk, user_id=user), now=moment)
                assert refused.value.code == "no_purchase_right"
        pipeline.drain(sale_id=sale.pk)
        for order in Order.objects.filter(sale_id=sale.pk, status=OrderStatus.AWAITING_PAYMENT):
            if rng.random() < 0.3:
                payments.order_pay(order_id=order.pk, user_id=order.user_id,
                                   now=order.created_at)

        held = holding(sale)
        assert held <= sale.stock
        assert holdings.state(sale_id=sale.pk).fcode_stock_left == sale.stock - held
        assert sale_reconcile(sale_id=sale.pk).clean
        moment += timedelta(minutes=31)

    statuses = set(Order.objects.filter(sale_id=sale.pk).values_list("status", flat=True))
    assert {OrderStatus.PAID, OrderStatus.EXPIRED} <= statuses  # the rounds did both
    assert FCode.objects.filter(sale=sale, lapsed_at__isnull=False).exists()
    assert sale.stock < FCode.objects.filter(sale=sale).count() <= len(users)


@pytest.mark.django_db(transaction=True)
def test_a_right_used_just_before_it_expires_does_not_lapse_while_its_ticket_is_queued(
        draw_sale, buyer_ids):
    sale, draw, _ = drawn(draw_sale, buyer_ids, stock=1, entrants=3)
    [winner] = draw.winners
    right = FCode.objects.get(sale=sale, user_id=winner)
    services.purchase_admit(purchase=Purchase(
        sale_id=sale.pk, user_id=winner), now=right.expires_at - timedelta(seconds=1))

    passed_on = draws.draw_rights_pass_on(sale_id=sale.pk,
                                          now=right.expires_at + timedelta(seconds=1))
    pipeline.drain(sale_id=sale.pk)

    assert Order.objects.get(sale_id=sale.pk).user_id == winner
    assert passed_on == 0
    right.refresh_from_db()
    assert right.lapsed_at is None
    assert FCode.objects.filter(sale=sale).count() == 1


def test_the_draw_result_of_a_sale_without_a_draw_is_wrong_mode(make_sale, buyer_ids):
    """docs/api.md: `GET /sales/{id}/draw` answers 409 `wrong_mode` off a draw-mode sale."""
    sale = make_sale()
    [user] = buyer_ids(1)
    response = client_of(user).get(f"/api/v1/sales/{sale.pk}/draw")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "wrong_mode")

