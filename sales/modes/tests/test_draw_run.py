"""Running a draw sale's draw: once, after entries close, by ops only, recorded so that it can
be shown fair; each shopper can read their own result.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from core.errors import DomainError
from sales.models import Draw, FCode, Reservation
from sales.modes import draws
from sales.modes.tests.draw_helpers import client_of, drawn, enter
from shop.models import Customer
from shop.tests.fixtures import client_for

User = get_user_model()


@pytest.mark.django_db
def test_a_draw_sale_keeps_its_whole_stock_for_the_winners(draw_sale):
    sale = draw_sale(stock=7)

    assert (sale.fcode_quota, sale.open_stock) == (7, 0)


@pytest.mark.django_db
def test_the_draw_is_refused_while_entries_are_still_open(draw_sale, buyer_ids):
    sale = draw_sale(closes_in=3600)
    enter(sale, buyer_ids(3))

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
    enter(sale, buyer_ids(5))
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
    enter(sale, users)

    draws.draw_run(sale_id=sale.pk)  # a random seed, recorded
    draw = Draw.objects.get(sale=sale)

    customers = {c.user_id: c for c in Customer.objects.filter(user_id__in=users)}
    assert re.fullmatch(r"[0-9a-f]{32}", draw.seed)  # 128 random bits, as recorded
    assert Draw.objects.exclude(pk=draw.pk).filter(seed=draw.seed).count() == 0
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
    enter(sale, users)
    url = f"/api/v1/ops/sales/{sale.pk}/draw"

    shopper = client_of(users[0]).post(url)
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
    enter(sale, buyer_ids(3))
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
    enter(sale, buyer_ids(4))
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
    sale, draw, users = drawn(draw_sale, buyer_ids, stock=1, entrants=3)
    [winner] = draw.winners
    loser = draw.waitlist[0]
    [outsider] = buyer_ids(1, start=500)

    def result(user_id: int) -> dict:
        return client_of(user_id).get(f"/api/v1/sales/{sale.pk}/draw").json()

    assert {k: result(winner)[k] for k in ("drawn", "entered", "won", "used")} == {
        "drawn": True, "entered": True, "won": True, "used": False}
    assert result(winner)["right_expires_at"] is not None
    assert {k: result(loser)[k] for k in ("entered", "won")} == {"entered": True, "won": False}
    assert {k: result(outsider)[k] for k in ("entered", "won")} == {"entered": False,
                                                                   "won": False}


# --- buying with a right ----------------------------------------------------------------------



@pytest.mark.django_db
def test_each_draw_gets_its_own_unpredictable_seed(draw_sale, buyer_ids):
    """A seed nobody can know before the draw: a fixed or guessable one would let someone
    who knows the entries tell the winners in advance."""
    seeds = []
    for start in (1, 10):
        sale = draw_sale()
        enter(sale, buyer_ids(3, start=start))
        seeds.append(draws.draw_run(sale_id=sale.pk).seed)
    assert len(set(seeds)) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", s) for s in seeds)
