"""Draw sales (抽签): reservers enter, a reproducible weighted draw picks the winners, each
winner holds a purchase right for one unit, and rights left unused pass down the waitlist.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from conftest import client_for
from sales import draws, gate, modes, pipeline, services
from sales.models import Draw, FCode, Reservation
from sales.reconcile import sale_reconcile
from shop import payments
from shop.errors import DomainError
from shop.models import Customer, Order, OrderStatus

User = get_user_model()


def _entries(levels: list[int]) -> list[list]:
    """Draw entries [reservation id, user id, fan level, phone], one phone each."""
    return [[10 + i, 1000 + i, level, f"1390000{i:04d}"] for i, level in enumerate(levels)]


MIXED = _entries([i % 5 for i in range(60)])


# --- the draw itself: a pure function of its entries and seed -------------------------------

def test_the_same_entries_and_seed_draw_the_same_winners_and_waitlist():
    first = draws.draw_winners(entries=MIXED, units=10, seed="launch-2019")
    shuffled = random.Random(1).sample(MIXED, len(MIXED))

    again = draws.draw_winners(entries=[list(e) for e in MIXED], units=10, seed="launch-2019")
    in_any_order = draws.draw_winners(entries=shuffled, units=10, seed="launch-2019")

    assert len(first[0]) == 10
    assert again == first
    assert in_any_order == first


def test_a_different_seed_draws_different_winners():
    winners_a, waitlist_a = draws.draw_winners(entries=MIXED, units=10, seed="seed-a")
    winners_b, waitlist_b = draws.draw_winners(entries=MIXED, units=10, seed="seed-b")

    assert set(winners_a) != set(winners_b)
    assert waitlist_a != waitlist_b


def test_the_waitlist_is_every_other_entrant_in_reservation_order():
    entries = _entries([0, 3, 1, 2, 4, 0, 1, 3])
    entries = [[100 - e[0], *e[1:]] for e in entries]  # reservation order opposite to user ids

    winners, waitlist = draws.draw_winners(entries=entries, units=3, seed="order")

    assert len(winners) == len(set(winners)) == 3
    assert set(winners).isdisjoint(waitlist)
    assert set(winners) | set(waitlist) == {e[1] for e in entries}
    by_reservation = [e[1] for e in sorted(entries)]
    assert waitlist == [user for user in by_reservation if user not in winners]


def test_one_phone_wins_at_most_once_even_with_two_entries():
    entries = _entries([0, 1, 2, 3, 4, 3])
    twin_a, twin_b = entries[3], entries[5]
    twin_b[3] = twin_a[3]  # two accounts registered to the same phone

    for seed in range(40):
        winners, waitlist = draws.draw_winners(entries=entries, units=len(entries),
                                               seed=f"twins-{seed}")
        assert len(winners) == len(entries) - 1, seed
        assert len({twin_a[1], twin_b[1]} & set(winners)) == 1, seed
        assert len({twin_a[1], twin_b[1]} & set(waitlist)) == 1, seed


def test_lv3_fans_win_clearly_more_often_than_lv0_newcomers():
    entries = _entries([0] * 20 + [3] * 20)
    lv0 = {e[1] for e in entries if e[2] == 0}
    wins = {0: 0, 3: 0}

    for seed in range(300):  # fixed seeds: the outcome is the same on every run
        winners, _ = draws.draw_winners(entries=entries, units=8, seed=f"fans-{seed}")
        for user in winners:
            wins[0 if user in lv0 else 3] += 1

    assert wins[0] + wins[3] == 300 * 8
    assert wins[3] > 2 * wins[0], wins  # weights 4:1 give about 3:1 here


# --- running a sale's draw --------------------------------------------------------------------

@pytest.fixture
def draw_sale(make_sale):
    """A live draw sale whose entries closed a minute ago (or in `closes_in` seconds)."""
    def make(*, stock: int = 2, closes_in: float = -60, load: bool = False, **extra):
        now = timezone.now()
        return make_sale(stock=stock, mode="draw", load=load, lasts=3 * 3600,
                         reservation_opens_at=now - timedelta(hours=2),
                         reservation_closes_at=now + timedelta(seconds=closes_in), **extra)
    return make


def _enter(sale, user_ids: list[int]) -> None:
    inside = sale.reservation_opens_at + timedelta(minutes=1)
    for user_id in user_ids:
        modes.reservation_create(sale_id=sale.pk, user_id=user_id, now=inside)


def _client(user_id: int):
    return client_for(User.objects.get(pk=user_id))


def _buy(client, sale):
    return client.post(f"/api/v1/sales/{sale.pk}/purchase", {}, format="json")


def _holding(sale) -> int:
    return Order.objects.filter(sale_id=sale.pk, status__in=services.HOLDING).count()


def _drawn(draw_sale, buyer_ids, *, stock: int, entrants: int, seed: str = "fixed"):
    """A draw sale with `entrants` entries (reserved in reverse id order), drawn and loaded."""
    sale = draw_sale(stock=stock)
    users = buyer_ids(entrants)
    _enter(sale, list(reversed(users)))
    draw = draws.draw_run(sale_id=sale.pk, seed=seed)
    services.gate_load(sale_id=sale.pk)
    sale.refresh_from_db()
    return sale, draw, users


@pytest.mark.django_db
def test_a_draw_sale_keeps_its_whole_stock_for_the_winners(draw_sale):
    sale = draw_sale(stock=7)

    assert (sale.fcode_quota, sale.open_stock) == (7, 0)


@pytest.mark.django_db
def test_the_draw_is_refused_while_entries_are_still_open(draw_sale, buyer_ids):
    sale = draw_sale(closes_in=3600)
    _enter(sale, buyer_ids(3))

    with pytest.raises(DomainError) as refused:
        draws.draw_run(sale_id=sale.pk, now=sale.reservation_closes_at - timedelta(seconds=1))

    assert (refused.value.code, refused.value.status) == ("draw_not_closed", 409)
    assert not Draw.objects.exists() and not FCode.objects.exists()
    assert draws.draw_run(sale_id=sale.pk, now=sale.reservation_closes_at).winners


@pytest.mark.django_db
def test_only_a_draw_sale_has_a_draw(make_sale):
    sale = make_sale(stock=3)

    with pytest.raises(DomainError) as refused:
        draws.draw_run(sale_id=sale.pk)

    assert (refused.value.code, refused.value.status) == ("wrong_mode", 409)
    assert not Draw.objects.exists()


@pytest.mark.django_db
def test_a_draw_runs_only_once(draw_sale, buyer_ids):
    sale = draw_sale(stock=2)
    _enter(sale, buyer_ids(5))
    first = draws.draw_run(sale_id=sale.pk, seed="one")

    with pytest.raises(DomainError) as refused:
        draws.draw_run(sale_id=sale.pk, seed="two")

    assert (refused.value.code, refused.value.status) == ("draw_already_run", 409)
    assert Draw.objects.get().winners == first.winners
    assert FCode.objects.filter(sale=sale).count() == 2


@pytest.mark.django_db
def test_the_recorded_seed_and_entries_reproduce_the_recorded_winners(draw_sale, buyer_ids):
    sale = draw_sale(stock=4)
    users = buyer_ids(15)
    _enter(sale, users)

    draws.draw_run(sale_id=sale.pk)  # a random seed, recorded
    draw = Draw.objects.get(sale=sale)

    customers = {c.user_id: c for c in Customer.objects.filter(user_id__in=users)}
    assert draw.seed
    assert draw.entries == [[r.pk, r.user_id, customers[r.user_id].fan_level,
                             customers[r.user_id].phone]
                            for r in Reservation.objects.filter(sale=sale).order_by("pk")]
    assert len(draw.winners) == 4
    assert draws.draw_winners(entries=draw.entries, units=sale.stock, seed=draw.seed) == (
        draw.winners, draw.waitlist)
    rights = FCode.objects.filter(sale=sale, kind=FCode.Kind.RIGHT)
    assert sorted(rights.values_list("user_id", flat=True)) == sorted(draw.winners)


# --- the HTTP side ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_shopper_may_not_run_the_draw_and_a_superuser_may(draw_sale, buyer_ids):
    sale = draw_sale(stock=2)
    users = buyer_ids(4)
    _enter(sale, users)
    url = f"/api/v1/ops/sales/{sale.pk}/draw"

    shopper = _client(users[0]).post(url)
    assert (shopper.status_code, shopper.json()["error"]["code"]) == (403, "forbidden")
    assert not Draw.objects.exists() and not FCode.objects.exists()

    root = User.objects.create_superuser("root-draw", password="x-Long-pass-1")
    assert client_for(root).post(url).status_code != 403

    draw = Draw.objects.get(sale=sale)
    assert (draw.run_by_id, len(draw.winners)) == (root.pk, 2)
    again = client_for(root).post(url)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "draw_already_run")


@pytest.mark.django_db
def test_staff_with_the_add_draw_permission_run_the_draw_and_staff_without_it_may_not(
        draw_sale, buyer_ids):
    sale = draw_sale(stock=1)
    _enter(sale, buyer_ids(3))
    url = f"/api/v1/ops/sales/{sale.pk}/draw"
    plain_staff = User.objects.create_user("staff-plain", password="x-Long-pass-1",
                                           is_staff=True)
    drawer = User.objects.create_user("staff-draw", password="x-Long-pass-1", is_staff=True)
    drawer.user_permissions.add(Permission.objects.get(codename="add_draw"))

    refused = client_for(plain_staff).post(url)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    assert not Draw.objects.exists()

    assert client_for(drawer).post(url).status_code != 403
    assert Draw.objects.get(sale=sale).run_by_id == drawer.pk


@pytest.mark.django_db
def test_the_draw_endpoint_answers_201_with_the_recorded_draw(draw_sale, buyer_ids):
    sale = draw_sale(stock=2)
    _enter(sale, buyer_ids(4))
    root = User.objects.create_superuser("root-201", password="x-Long-pass-1")

    response = client_for(root).post(f"/api/v1/ops/sales/{sale.pk}/draw")

    assert response.status_code == 201
    draw = Draw.objects.get(sale=sale)
    body = response.json()
    assert (body["sale"], body["seed"], body["entries"], body["winners"], body["waitlist"]) == (
        sale.pk, draw.seed, 4, draw.winners, draw.waitlist)


@pytest.mark.django_db
def test_the_draw_endpoint_refuses_while_entries_are_open_and_for_a_non_draw_sale(
        draw_sale, make_sale):
    root = client_for(User.objects.create_superuser("root-early", password="x-Long-pass-1"))
    open_entries = draw_sale(closes_in=3600)
    rush = make_sale(stock=3)

    early = root.post(f"/api/v1/ops/sales/{open_entries.pk}/draw")
    wrong = root.post(f"/api/v1/ops/sales/{rush.pk}/draw")

    assert (early.status_code, early.json()["error"]["code"]) == (409, "draw_not_closed")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (409, "wrong_mode")


@pytest.mark.django_db
def test_a_shopper_sees_whether_they_entered_and_won(draw_sale, buyer_ids):
    sale, draw, users = _drawn(draw_sale, buyer_ids, stock=1, entrants=3)
    [winner] = draw.winners
    loser = draw.waitlist[0]
    [outsider] = buyer_ids(1, start=500)

    def result(user_id: int) -> dict:
        return _client(user_id).get(f"/api/v1/sales/{sale.pk}/draw").json()

    assert {k: result(winner)[k] for k in ("drawn", "entered", "won", "used")} == {
        "drawn": True, "entered": True, "won": True, "used": False}
    assert result(winner)["right_expires_at"] is not None
    assert {k: result(loser)[k] for k in ("entered", "won")} == {"entered": True, "won": False}
    assert {k: result(outsider)[k] for k in ("entered", "won")} == {"entered": False,
                                                                   "won": False}


# --- buying with a right ----------------------------------------------------------------------

@pytest.mark.django_db
def test_a_winner_buys_without_a_code_and_the_pipeline_makes_one_order(draw_sale, buyer_ids):
    sale, draw, _ = _drawn(draw_sale, buyer_ids, stock=2, entrants=6)
    winner = draw.winners[0]

    response = _buy(_client(winner), sale)
    assert response.status_code == 202
    pipeline.drain(sale_id=sale.pk)

    order = Order.objects.get(sale_id=sale.pk, user_id=winner)
    assert (order.status, order.total, order.ticket) == (
        OrderStatus.AWAITING_PAYMENT, sale.price, response.json()["ticket"])
    assert FCode.objects.get(sale=sale, user_id=winner).order_id == order.pk
    assert _client(winner).get(f"/api/v1/sales/{sale.pk}/draw").json()["used"] is True


@pytest.mark.django_db
def test_a_loser_has_no_purchase_right(draw_sale, buyer_ids):
    sale, draw, _ = _drawn(draw_sale, buyer_ids, stock=2, entrants=6)

    for loser in draw.waitlist:
        response = _buy(_client(loser), sale)
        assert (response.status_code, response.json()["error"]["code"]) == (
            409, "no_purchase_right")

    assert gate.state(sale_id=sale.pk).fcode_stock_left == 2
    assert pipeline.drain(sale_id=sale.pk) == 0
    assert not Order.objects.filter(sale_id=sale.pk).exists()


@pytest.mark.django_db
def test_a_winner_cannot_buy_twice(draw_sale, buyer_ids):
    sale, draw, _ = _drawn(draw_sale, buyer_ids, stock=2, entrants=6)
    client = _client(draw.winners[0])
    assert _buy(client, sale).status_code == 202
    pipeline.drain(sale_id=sale.pk)

    again = _buy(client, sale)

    assert again.status_code == 409
    assert again.json()["error"]["code"] in ("fcode_invalid", "limit_reached")
    pipeline.drain(sale_id=sale.pk)
    assert Order.objects.filter(sale_id=sale.pk).count() == 1
    assert gate.state(sale_id=sale.pk).fcode_stock_left == 1
    assert _holding(sale) <= sale.stock


# --- rights passing down the waitlist (units go back after commit: real commits) -------------

@pytest.mark.django_db(transaction=True)
def test_an_unused_right_lapses_and_passes_to_the_next_entrant_in_reservation_order(
        draw_sale, buyer_ids):
    sale, draw, users = _drawn(draw_sale, buyer_ids, stock=1, entrants=4)
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
        services.purchase_admit(sale_id=sale.pk, user_id=winner, now=buy_at)
    assert late.value.code in ("fcode_invalid", "no_purchase_right")

    services.purchase_admit(sale_id=sale.pk, user_id=next_in_line, now=buy_at)
    pipeline.drain(sale_id=sale.pk)

    order = Order.objects.get(sale_id=sale.pk)
    assert (order.user_id, order.status) == (next_in_line, OrderStatus.AWAITING_PAYMENT)
    passed.refresh_from_db()
    assert passed.order_id == order.pk
    assert _holding(sale) == 1 <= sale.stock
    assert sale_reconcile(sale_id=sale.pk).clean


@pytest.mark.django_db(transaction=True)
def test_an_unpaid_winners_expired_order_gives_its_unit_to_the_next_waitlisted_entrant(
        draw_sale, buyer_ids):
    sale, draw, _ = _drawn(draw_sale, buyer_ids, stock=2, entrants=5)
    payer, dawdler = draw.winners
    for winner in draw.winners:
        assert _buy(_client(winner), sale).status_code == 202
    pipeline.drain(sale_id=sale.pk)
    paid = payments.order_pay(order_id=Order.objects.get(user_id=payer).pk, user_id=payer)
    assert paid.status == OrderStatus.PAID
    unpaid = Order.objects.get(user_id=dawdler)
    assert gate.state(sale_id=sale.pk).fcode_stock_left == 0

    later = unpaid.payment_due_at + timedelta(seconds=1)
    assert services.orders_expire_due(now=later) == 1
    assert gate.state(sale_id=sale.pk).fcode_stock_left == 1
    assert draws.draw_rights_pass_on(sale_id=sale.pk, now=later) == 1

    next_in_line = draw.waitlist[0]
    passed = FCode.objects.get(sale=sale, kind=FCode.Kind.RIGHT, order__isnull=True)
    assert passed.user_id == next_in_line
    with pytest.raises(DomainError):
        services.purchase_admit(sale_id=sale.pk, user_id=dawdler, now=later)
    with pytest.raises(DomainError) as outsider:
        services.purchase_admit(sale_id=sale.pk, user_id=draw.waitlist[1], now=later)
    assert outsider.value.code == "no_purchase_right"
    services.purchase_admit(sale_id=sale.pk, user_id=next_in_line, now=later)
    pipeline.drain(sale_id=sale.pk)

    assert Order.objects.get(user_id=next_in_line).status == OrderStatus.AWAITING_PAYMENT
    assert sorted(Order.objects.filter(sale_id=sale.pk).values_list("status", flat=True)) == [
        OrderStatus.AWAITING_PAYMENT, OrderStatus.EXPIRED, OrderStatus.PAID]
    assert _holding(sale) == 2 == sale.stock
    assert draws.draw_rights_pass_on(sale_id=sale.pk, now=later) == 0
    assert sale_reconcile(sale_id=sale.pk).clean


@pytest.mark.django_db(transaction=True)
def test_a_drawn_sale_whose_rights_are_not_used_yet_reconciles_clean(draw_sale, buyer_ids):
    sale, draw, _ = _drawn(draw_sale, buyer_ids, stock=3, entrants=6)
    assert _buy(_client(draw.winners[0]), sale).status_code == 202
    pipeline.drain(sale_id=sale.pk)

    drift = sale_reconcile(sale_id=sale.pk)

    assert drift.clean, drift.as_dict()
    assert _holding(sale) == 1


@pytest.mark.django_db(transaction=True)
def test_rounds_of_lapses_and_expiries_never_hold_more_units_than_the_stock(draw_sale,
                                                                           buyer_ids):
    sale, draw, users = _drawn(draw_sale, buyer_ids, stock=3, entrants=12)
    rng, moment = random.Random(5), timezone.now()

    for _ in range(5):
        services.orders_expire_due(now=moment)
        draws.draw_rights_pass_on(sale_id=sale.pk, now=moment)
        rights = FCode.objects.filter(sale=sale, kind=FCode.Kind.RIGHT)
        holders = set(rights.filter(lapsed_at__isnull=True, order__isnull=True)
                      .values_list("user_id", flat=True))
        for user in users:
            if user in holders and rng.random() < 0.6:
                services.purchase_admit(sale_id=sale.pk, user_id=user, now=moment)
            elif not rights.filter(user_id=user).exists():
                with pytest.raises(DomainError) as refused:
                    services.purchase_admit(sale_id=sale.pk, user_id=user, now=moment)
                assert refused.value.code == "no_purchase_right"
        pipeline.drain(sale_id=sale.pk)
        for order in Order.objects.filter(sale_id=sale.pk, status=OrderStatus.AWAITING_PAYMENT):
            if rng.random() < 0.3:
                payments.order_pay(order_id=order.pk, user_id=order.user_id,
                                   now=order.created_at)

        holding = _holding(sale)
        assert holding <= sale.stock
        assert gate.state(sale_id=sale.pk).fcode_stock_left == sale.stock - holding
        assert sale_reconcile(sale_id=sale.pk).clean
        moment += timedelta(minutes=31)

    statuses = set(Order.objects.filter(sale_id=sale.pk).values_list("status", flat=True))
    assert {OrderStatus.PAID, OrderStatus.EXPIRED} <= statuses  # the rounds did both
    assert FCode.objects.filter(sale=sale, lapsed_at__isnull=False).exists()
    assert sale.stock < FCode.objects.filter(sale=sale).count() <= len(users)


@pytest.mark.django_db(transaction=True)
def test_a_right_used_just_before_it_expires_does_not_lapse_while_its_ticket_is_queued(
        draw_sale, buyer_ids):
    sale, draw, _ = _drawn(draw_sale, buyer_ids, stock=1, entrants=3)
    [winner] = draw.winners
    right = FCode.objects.get(sale=sale, user_id=winner)
    services.purchase_admit(sale_id=sale.pk, user_id=winner,
                            now=right.expires_at - timedelta(seconds=1))

    passed_on = draws.draw_rights_pass_on(sale_id=sale.pk,
                                          now=right.expires_at + timedelta(seconds=1))
    pipeline.drain(sale_id=sale.pk)

    assert Order.objects.get(sale_id=sale.pk).user_id == winner
    assert passed_on == 0
    right.refresh_from_db()
    assert right.lapsed_at is None
    assert FCode.objects.filter(sale=sale).count() == 1
