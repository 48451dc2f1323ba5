"""Rings linked at reservation are decided before the sale opens (issue 16, point 3): tied by
a proven identifier (one confirmed number), blocked before T0, and their tickets refused at
the opening before any order is written; tied only by claimed details (one building, a flat
each), flagged for review and never blocked, so they buy like anyone; a fan is untouched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from antiscalper.models import RiskDecision
from sales import selectors, services
from sales.models import FlashSale, RejectedTicket
from sales.modes import draws
from sales.modes.reservations import reservation_create
from sales.pipeline import linking_feed, risk_feed
from sales.pipeline import orders as pipeline
from sales.pipeline.tests.risk_helpers import BROWSER, buy, old
from shop import services as shop_services
from shop.models import Customer, Order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reserved(reservation_sale, make_customer):
    """A reservation sale two hours off; a number ring, a building ring and a fan reserved."""
    sale = reservation_sale(stock=20)
    numbers = [old(make_customer(with_address=False)) for _ in range(4)]
    for n, member in enumerate(numbers):
        Customer.objects.filter(pk=member.pk).update(
            verified_phone="+8613900000077",
            phone_verified_at=timezone.now() - timedelta(days=40 + n))
    building = [old(make_customer(with_address=False)) for _ in range(4)]
    for n, member in enumerate(building):
        shop_services.address_create(customer=member, recipient="R", phone=member.phone,
                                     line1=f"Flat {n + 1}, 9 Drop Street", city="Shenzhen",
                                     postcode="518000")
    fan = old(make_customer())
    for n, customer in enumerate([*numbers, *building, fan]):
        reservation_create(sale_id=sale.pk, user_id=customer.user_id, device=f"phone-{n}",
                           ip=f"36.{n}.7.7")
    return sale, numbers, building, fan


def _decisions(sale, customers) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for user_id, decision in RiskDecision.objects.filter(
            sale_id=sale.pk, source="linking", user_id__in=[c.user_id for c in customers]) \
            .order_by("pk").values_list("user_id", "decision"):
        found.setdefault(user_id, []).append(decision)
    return found


def test_reservers_linked_by_a_proven_identifier_are_blocked_before_t0(reserved):
    sale, numbers, building, fan = reserved
    assert sale.pk in selectors.sales_linking_due()
    linking_feed.linking_tick()
    assert timezone.now() < sale.starts_at
    assert _decisions(sale, numbers) == {m.user_id: ["block"] for m in numbers}
    assert _decisions(sale, building) == {m.user_id: ["review"] for m in building}
    assert _decisions(sale, [fan]) == {}
    blocked = RiskDecision.objects.filter(sale_id=sale.pk, user_id=numbers[0].user_id).get()
    assert "holds a reservation" in blocked.reason
    linking_feed.linking_full(sale_id=sale.pk)  # the reconciler agrees: nothing new
    assert RiskDecision.objects.filter(sale_id=sale.pk, source="linking").count() == 8


def test_at_the_opening_the_blocked_ring_gets_no_order_and_the_reviewed_one_buys(reserved):
    sale, numbers, building, fan = reserved
    linking_feed.linking_tick()
    FlashSale.objects.filter(pk=sale.pk).update(starts_at=timezone.now() - timedelta(seconds=1))
    services.gate_load(sale_id=sale.pk)
    sale.refresh_from_db()
    tickets = {}
    for n, customer in enumerate([*numbers, *building, fan]):
        answer = buy(customer, sale, HTTP_X_DEVICE_ID=f"phone-{n}", REMOTE_ADDR=f"36.{n}.7.7",
                     **BROWSER)
        assert answer.status_code == 202
        tickets[customer.user_id] = answer.json()["ticket"]
    pipeline.drain(sale_id=sale.pk)  # before the attempts reach the risk engine, on purpose
    risk_feed.attempts_drain(sale_id=sale.pk)
    linking_feed.linking_tick()
    assert not Order.objects.filter(sale_id=sale.pk,
                                    user_id__in=[m.user_id for m in numbers]).exists()
    assert set(RejectedTicket.objects.filter(ticket__in=[tickets[m.user_id] for m in numbers])
               .values_list("reason", flat=True)) == {"risk_blocked"}
    holding = Order.objects.filter(sale_id=sale.pk).values_list("user_id", "status")
    assert sorted(holding) == sorted((c.user_id, "awaiting_payment") for c in [*building, fan])
    assert {d for ds in _decisions(sale, building).values() for d in ds} == {"review"}


def test_a_ring_linked_at_its_draw_entries_wins_no_right(draw_sale, make_customer):
    """In a draw the reservation is the entry: a ring tied by one confirmed number is
    blocked before the draw runs, and the draw leaves it out, as it leaves out blacklisted
    entrants; the fans win."""
    sale = draw_sale(stock=10, closes_in=3600)
    ring = [old(make_customer(with_address=False)) for _ in range(4)]
    for n, member in enumerate(ring):
        Customer.objects.filter(pk=member.pk).update(
            verified_phone="+8613900000078",
            phone_verified_at=timezone.now() - timedelta(days=40 + n))
    fans = [old(make_customer()) for _ in range(3)]
    for n, customer in enumerate([*ring, *fans]):
        reservation_create(sale_id=sale.pk, user_id=customer.user_id, device=f"d-{n}",
                           ip=f"36.{n}.8.8")
    linking_feed.linking_tick()
    assert _decisions(sale, ring) == {m.user_id: ["block"] for m in ring}
    draw = draws.draw_run(sale_id=sale.pk, now=timezone.now() + timedelta(hours=2))
    assert sorted(draw.winners) == sorted(f.user_id for f in fans)
