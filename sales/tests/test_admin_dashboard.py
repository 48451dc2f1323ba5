"""A sale's dashboard in admin: what sold, was paid, expired and was flagged, its ring cases,
charts of its minutes, and an honest "unknown" for the scalper share; bounded queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from antiscalper.models import AttemptSignal, RingCase, RiskDecision
from sales.dashboard import MAX_BARS, per_minute
from shop.models import OrderStatus


def dashboard_url(sale) -> str:
    return f"/admin/sales/flashsale/{sale.pk}/dashboard/"


@pytest.fixture
def ops(client, make_staff):
    client.force_login(make_staff("sales.view_flashsale"))
    return client


def figure(html: str, name: str) -> str:
    return re.search(rf'data-figure="{name}">([^<]*)<', html).group(1)


def busy(sale, make_customer, make_order, *, orders: int) -> None:
    """`orders` paid orders, one expired and one unpaid one by a flagged account, attempts
    over three minutes, and a ring case."""
    t0 = sale.starts_at
    for n in range(orders):
        buyer = make_customer().user
        make_order(user=buyer, sale_id=sale.pk, status=OrderStatus.PAID)
        AttemptSignal.objects.create(sale_id=sale.pk, user_id=buyer.pk, kind="purchase",
                                     at=t0 + timedelta(minutes=n % 3), ms_since_open=n,
                                     verdict="admitted")
    make_order(user=make_customer().user, sale_id=sale.pk, status=OrderStatus.EXPIRED)
    scalper = make_customer().user
    make_order(user=scalper, sale_id=sale.pk, status=OrderStatus.AWAITING_PAYMENT, quantity=2)
    RiskDecision.objects.create(sale_id=sale.pk, user=scalper, decision="review",
                                created_at=t0)
    AttemptSignal.objects.create(sale_id=sale.pk, user_id=scalper.pk, kind="purchase", at=t0,
                                 ms_since_open=3, verdict="limit_reached")
    RingCase.objects.create(sale_id=sale.pk, members=[scalper.pk], created_at=t0,
                            updated_at=t0)


def test_the_dashboard_shows_the_sales_numbers_and_its_minutes(ops, make_sale, make_customer,
                                                               make_order):
    sale = make_sale(load=False, stock=10, starts_in=-600)
    busy(sale, make_customer, make_order, orders=4)
    response = ops.get(dashboard_url(sale))
    assert response.status_code == 200
    html = response.content.decode()
    assert (figure(html, "sold"), figure(html, "paid"), figure(html, "expired")) == \
        ("6", "4", "1")
    assert (figure(html, "flagged"), figure(html, "flagged-units"), figure(html, "cases")) == \
        ("1", "2", "1")
    assert figure(html, "scalper-share") == "unknown"
    charts = re.findall(r'<svg[^>]*aria-label="([^"]+)"', html)
    assert charts == ["Admitted attempts", "Refused attempts", "Orders written"]
    admitted = html.split('aria-label="Admitted attempts"')[1].split("</svg>")[0]
    assert re.findall(r"<title>\d\d:\d\d: (\d+)</title>", admitted) == ["2", "1", "1"]


def test_the_dashboard_costs_the_same_queries_for_many_orders_as_for_few(
        ops, make_sale, make_customer, make_order):
    few, many = make_sale(load=False, stock=50), make_sale(load=False, stock=50)
    busy(few, make_customer, make_order, orders=1)
    busy(many, make_customer, make_order, orders=12)
    ops.get(dashboard_url(few))

    def cost(sale) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert ops.get(dashboard_url(sale)).status_code == 200
        return len(captured.captured_queries)

    assert cost(few) == cost(many)


def test_the_sale_page_and_the_list_link_the_dashboard(ops, make_sale):
    sale = make_sale(load=False)
    assert dashboard_url(sale) in ops.get(f"/admin/sales/flashsale/{sale.pk}/change/") \
        .content.decode()
    assert dashboard_url(sale) in ops.get("/admin/sales/flashsale/").content.decode()


def test_a_sale_with_nothing_yet_says_so_and_no_such_sale_is_not_found(ops, make_sale):
    sale = make_sale(load=False, starts_in=3600)
    html = ops.get(dashboard_url(sale)).content.decode()
    assert html.count("nothing yet") == 3 and figure(html, "sold") == "0"
    assert ops.get("/admin/sales/flashsale/999999/dashboard/").status_code == 404


def test_staff_without_the_view_right_on_sales_are_refused(client, make_staff, make_sale):
    client.force_login(make_staff("antiscalper.view_riskdecision"))
    assert client.get(dashboard_url(make_sale(load=False))).status_code == 403


def test_minutes_without_events_count_zero_and_a_long_sale_is_bucketed():
    t0 = timezone.now().replace(second=0, microsecond=0)
    assert per_minute([(t0, 2), (t0 + timedelta(minutes=3), 1)]) == [
        (t0, 2), (t0 + timedelta(minutes=1), 0), (t0 + timedelta(minutes=2), 0),
        (t0 + timedelta(minutes=3), 1)]
    day = per_minute([(t0 + timedelta(minutes=m), 1) for m in range(0, 24 * 60, 7)])
    assert len(day) <= MAX_BARS and sum(n for _, n in day) == len(range(0, 24 * 60, 7))
