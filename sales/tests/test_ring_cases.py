"""A ring case confirmed in admin costs its members their orders exactly once, through the
linking task as any block does; a fan outside the ring keeps hers; a cleared ring keeps
theirs and is never flagged again by the same building (issue 16, point 6)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from antiscalper.models import RingCase
from sales import invariants, tasks
from sales.models import StockReturn
from sales.pipeline import orders as pipeline
from sales.pipeline import risk_feed
from sales.pipeline.tests.risk_helpers import BROWSER, buy, old
from shop import payments, services
from shop.models import Order

pytestmark = pytest.mark.django_db(transaction=True)  # units go back after commit


@pytest.fixture
def ringed_sale(make_sale, make_customer):
    """Four accounts delivering to one building, each to its own flat, and a fan elsewhere:
    all buy; one ring member and the fan pay."""
    sale = make_sale(stock=10, limit=1)
    ring = [old(make_customer(with_address=False)) for _ in range(4)]
    for n, member in enumerate(ring):
        services.address_create(customer=member, recipient="R", phone=member.phone,
                                line1=f"Flat {n + 1}, 9 Drop Street", city="Shenzhen",
                                postcode="518000")
        buy(member, sale, HTTP_X_DEVICE_ID=f"ring-{n}", REMOTE_ADDR=f"36.{n}.9.9", **BROWSER)
    fan = old(make_customer())
    buy(fan, sale, HTTP_X_DEVICE_ID="fan-phone", REMOTE_ADDR="61.1.1.1", **BROWSER)
    risk_feed.attempts_drain(sale_id=sale.pk)
    pipeline.drain(sale_id=sale.pk)
    for customer in (ring[0], fan):
        order = Order.objects.get(sale_id=sale.pk, user_id=customer.user_id)
        payments.order_pay(order_id=order.pk, user_id=customer.user_id,
                           instrument=f"card-{customer.user_id}")
    tasks.sales_linking()  # a claimed tie: the ring is flagged for review, nobody cancelled
    return sale, ring, fan


def statuses(sale, customers) -> list[str]:
    return [Order.objects.get(sale_id=sale.pk, user_id=c.user_id).status for c in customers]


def ops_client(client, make_staff):
    call_command("setup_ops_group", stdout=StringIO())
    user = make_staff()
    user.groups.add(Group.objects.get(name="ops"))
    client.force_login(user)
    return client


def answer(client, case: RingCase, verb: str):
    return client.post(f"/admin/antiscalper/ringcase/sale/{case.sale_id}/{case.pk}/{verb}/do/",
                       {"members": ",".join(str(u) for u in case.members)})


def test_confirming_the_case_cancels_every_members_order_once(ringed_sale, client,
                                                              make_staff):
    sale, ring, fan = ringed_sale
    (case,) = RingCase.objects.filter(sale_id=sale.pk)
    assert case.members == sorted(m.user_id for m in ring)
    assert statuses(sale, ring) == ["paid"] + ["awaiting_payment"] * 3
    ops = ops_client(client, make_staff)
    assert answer(ops, case, "confirm").status_code == 302
    tasks.sales_linking()
    assert statuses(sale, ring) == ["refunded"] + ["cancelled"] * 3
    assert answer(ops, case, "confirm").status_code == 302  # a second confirm does nothing
    tasks.sales_linking()
    tasks.sales_linking()
    assert StockReturn.objects.filter(sale_id=sale.pk).count() == 4
    assert statuses(sale, [fan]) == ["paid"]
    sale.refresh_from_db()
    assert sale.units_taken == 1
    assert invariants.broken(invariants.sale_invariants(sale_id=sale.pk)) == []


def test_clearing_the_case_keeps_the_orders_and_the_building_flags_no_one_again(
        ringed_sale, client, make_staff):
    sale, ring, fan = ringed_sale
    (case,) = RingCase.objects.filter(sale_id=sale.pk)
    assert answer(ops_client(client, make_staff), case, "clear").status_code == 302
    tasks.sales_linking()
    tasks.sales_linking()
    assert statuses(sale, ring) == ["paid"] + ["awaiting_payment"] * 3
    assert RingCase.objects.filter(sale_id=sale.pk).count() == 1
    assert not StockReturn.objects.filter(sale_id=sale.pk).exists()
    assert invariants.broken(invariants.sale_invariants(sale_id=sale.pk)) == []
