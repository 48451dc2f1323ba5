"""Ops admin names people and sales: usernames and sale titles (linked), never bare ids, and
a list page costs the same queries for four rows as for one."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sales.tests.admin_world import sale_rows

LISTS = ["shop/order/", "shop/payment/", "shop/address/", "shop/customer/",
         "sales/flashsale/", "sales/reservation/", "sales/fcode/", "sales/draw/",
         "sales/stockreturn/", "sales/rejectedticket/", "antiscalper/riskdecision/?flag=all",
         "antiscalper/ringcase/", "antiscalper/appeal/", "antiscalper/blacklistentry/",
         "antiscalper/allowlistentry/"]


@pytest.fixture
def ops(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def rows(make_customer, make_sale, make_order):
    def make() -> dict:
        return sale_rows(make_customer=make_customer, make_sale=make_sale,
                         make_order=make_order)
    return make


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


@pytest.mark.parametrize("page", LISTS)
def test_a_list_page_costs_the_same_queries_for_four_rows_as_for_one(ops, rows, page):
    url = f"/admin/{page}"
    rows()
    queries(ops, url)  # caches warm (content types, the session)
    one = queries(ops, url)
    for _ in range(3):
        rows()
    assert queries(ops, url) == one


def test_lists_of_the_lower_apps_name_the_sale_by_its_title_linked(ops, rows):
    world = rows()
    sale = world["sale"]
    link = f'<a href="{reverse("admin:sales_flashsale_change", args=[sale.pk])}">{sale.title}</a>'
    for page in ("shop/order/", "antiscalper/riskdecision/", "antiscalper/ringcase/"):
        html = ops.get(f"/admin/{page}").content.decode()
        assert link in html, page
    html = ops.get("/admin/antiscalper/riskdecision/").content.decode()
    assert f"{sale.title} (#{sale.pk})" in html  # the sale filter's choice
    assert "fan-" in html and world["shopper"].user.username in html


def test_an_order_page_names_its_sale(ops, rows):
    world = rows()
    html = ops.get(f"/admin/shop/order/{world['order'].pk}/change/").content.decode()
    assert world["sale"].title in html
    assert 'name="sale_id"' not in html


def test_records_name_the_account_not_its_id(ops, rows):
    world = rows()
    username = world["shopper"].user.username
    assert username in ops.get("/admin/sales/rejectedticket/").content.decode()
    draw = world["sale"].draw
    html = ops.get(f"/admin/sales/draw/{draw.pk}/change/").content.decode()
    assert f"{username} (Lv2)" in html  # the entries
    assert html.count(username) >= 2  # the entries and the winners


def test_an_account_on_the_blacklist_shows_by_its_username(ops, rows):
    world = rows()
    user = world["shopper"].user
    shown = f"{user.username} (account {user.pk})"
    assert shown in ops.get("/admin/antiscalper/blacklistentry/").content.decode()
    page = ops.get(f"/admin/antiscalper/blacklistentry/{world['entry'].pk}/change/")
    assert shown in page.content.decode()
    assert shown in ops.get("/admin/antiscalper/appeal/").content.decode()


def test_a_ring_case_page_names_its_sale(ops, rows):
    world = rows()
    html = ops.get(f"/admin/antiscalper/ringcase/{world['case'].pk}/change/").content.decode()
    assert world["sale"].title in html


def detail_title(client, url: str) -> str:
    """The page's <title>: Django's admin starts it with the record's name (its subtitle)."""
    html = client.get(url).content.decode()
    return html.split("<title>", 1)[1].split("</title>", 1)[0]


DETAILS = {  # admin page -> the record in sale_rows' world, and what its title must name
    "sales/reservation": (lambda w: w["sale"].reservations.get(), ("user", "sale")),
    "sales/fcode": (lambda w: w["sale"].fcodes.get(), ("user",)),
    "sales/draw": (lambda w: w["sale"].draw, ("sale",)),
    "sales/stockreturn": (lambda w: w["order"].stock_return, ("sale", "order")),
    "sales/rejectedticket": (lambda w: w["sale"].rejected_tickets.get(), ("user",)),
    "shop/payment": (lambda w: w["order"].payments.get(), ("order",)),
    "antiscalper/riskdecision": (lambda w: w["decision"], ("user", "sale")),
    "antiscalper/ringcase": (lambda w: w["case"], ("sale",)),
}


@pytest.mark.parametrize("page", DETAILS)
def test_a_record_page_is_titled_by_names_not_ids(ops, rows, page):
    world = rows()
    record_of, names = DETAILS[page]
    record = record_of(world)
    title = detail_title(ops, f"/admin/{page}/{record.pk}/change/")
    expected = {"user": world["shopper"].user.username, "sale": world["sale"].title,
                "order": world["order"].number}
    for name in names:
        assert expected[name] in title, (page, title)
    user_id, sale_id = world["shopper"].user.pk, world["sale"].pk
    for bare in (f"user {user_id}", f"sale {sale_id}", f"{user_id} took", f"for {user_id}",
                 f"{user_id} reserved", f"of {sale_id} "):
        assert bare not in title, (page, title)
