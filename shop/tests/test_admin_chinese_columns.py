"""Every admin list and page of shop, sales and antiscalper reads in Chinese under the Chinese
cookie: each column header of a changelist, each filter's title and each field's label (of a
change page, its inlines' columns too) has Chinese in it, unless it is a name that is not a
word (SKU, IP, ID). The names come from the models' translated `verbose_name`s and the admins'
translated descriptions; in English the same pages still show the words Django always showed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.test import Client

from antiscalper.models import RiskPolicy
from sales.models import Reminder
from sales.tests.admin_world import sale_rows
from shop.models import Address, Customer, OrderStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules_seeded")]

APPS = ("shop", "sales", "antiscalper")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Names that are not words of either language: they read the same in Chinese.
NOT_WORDS = {"SKU", "IP", "ID", "F", "#"}


class _Labels(HTMLParser):
    """The names a page gives its data: the results table's column headers, the filters'
    titles, the form's labels and the inlines' column headers."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.filters: list[str] = []
        self.labels: list[str] = []
        self._into: list[str] | None = None
        self._tag = ""
        self._text: list[str] = []
        self._tables: list[str] = []  # the id (or class) of each open table

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "table":
            self._tables.append(values.get("id") or values.get("class") or "")
        elif "data-filter-title" in values:
            self.filters.append(values["data-filter-title"] or "")
        if self._into is not None:
            return
        if tag == "th" and self._tables and values.get("scope") == "col" \
                and "action-checkbox-column" not in (values.get("class") or ""):
            self._start(tag, self.headers if self._tables[-1] == "result_list"
                        else self.labels)
        elif tag == "th" and self._tables and "column-" in (values.get("class") or ""):
            self._start(tag, self.labels)  # a tabular inline's column
        elif tag == "label" and values.get("for") != "searchbar":
            self._start(tag, self.labels)

    def _start(self, tag: str, into: list[str]) -> None:
        self._into, self._tag, self._text = into, tag, []

    def handle_endtag(self, tag):
        if tag == "table" and self._tables:
            self._tables.pop()
        if self._into is not None and tag == self._tag:
            text = " ".join(" ".join(self._text).split()).rstrip(":：").strip()
            text = re.sub(r"^\d+ ", "", text)  # a sorted column's priority
            if text:
                self._into.append(text)
            self._into = None

    def handle_data(self, data):
        if self._into is not None:
            self._text.append(data)


def names_of(html: str) -> _Labels:
    parser = _Labels()
    parser.feed(html)
    return parser


def english_left(names: list[str]) -> list[str]:
    return [name for name in names if not CJK.search(name) and name not in NOT_WORDS
            and not name.isdigit()]


def browser(user, language: str) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


@pytest.fixture
def world(make_customer, make_sale, make_order):
    """A row for every registered admin (sales.tests.admin_world.sale_rows, a reminder, the
    policy), the shopper's customer and address among them."""
    rows = sale_rows(make_customer=make_customer, make_sale=make_sale, make_order=make_order)
    Reminder.objects.create(sale=rows["sale"], user=rows["shopper"].user, language="en")
    RiskPolicy.objects.get_or_create(pk=1)
    return rows


def admins() -> list[tuple[str, type]]:
    return sorted((f"{model._meta.app_label}.{model._meta.model_name}", model)
                  for model in admin.site._registry if model._meta.app_label in APPS)


ADMINS = [label for label, _ in admins()]


def _page(model) -> tuple[str, str]:
    opts = model._meta
    base = f"/admin/{opts.app_label}/{opts.model_name}/"
    row = model._default_manager.order_by("pk").first()
    return base, (f"{base}{row.pk}/change/" if row is not None else "")


def test_every_admin_of_the_three_apps_is_checked_here():
    """A new admin is checked too: the list below is the admin site's own."""
    assert len(ADMINS) >= 20 and "shop.order" in ADMINS and "sales.flashsale" in ADMINS


@pytest.mark.parametrize("label", ADMINS)
def test_a_list_and_a_page_of_every_admin_name_their_data_in_chinese(world, superuser, label):
    model = dict(admins())[label]
    changelist, change = _page(model)
    client = browser(superuser, "zh-hans")
    response = client.get(changelist)
    assert response.status_code == 200, changelist
    listed = names_of(response.content.decode())
    assert listed.headers, f"{changelist}: no column"
    assert not english_left(listed.headers), f"{changelist} columns: {listed.headers}"
    assert not english_left(listed.filters), f"{changelist} filters: {listed.filters}"
    assert change, f"{label}: no row to open"
    page = client.get(change)
    assert page.status_code == 200, change
    shown = names_of(page.content.decode())
    assert not english_left(shown.labels), f"{change} labels: {shown.labels}"


@pytest.mark.parametrize("label", ["shop.product", "shop.customer"])
def test_the_add_pages_name_their_fields_in_chinese(superuser, label):
    response = browser(superuser, "zh-hans").get(f"/admin/{label.replace('.', '/')}/add/")
    assert response.status_code == 200
    assert not english_left(names_of(response.content.decode()).labels)


def test_the_admin_index_names_every_model_in_chinese(world, superuser):
    html = browser(superuser, "zh-hans").get("/admin/").content.decode()
    models = re.findall(r'<th scope="row" id="[\w-]+">\s*<a href="/admin/(?:shop|sales|antiscalper)'
                        r'/\w+/"[^>]*>([^<]+)</a>', html)
    assert len(models) == len(ADMINS)
    assert not english_left(models), models


# Headers the English console showed before the models had translated names: unchanged.
ENGLISH = {"/admin/sales/flashsale/": ["Title", "Mode", "Price", "Starts at", "Ends at"],
           "/admin/shop/order/": ["Number", "User", "Status", "Total", "Payment due at",
                                  "Created at"],
           "/admin/shop/customer/": ["User", "Phone", "Fan level", "Is verified",
                                     "Phone verified at", "Joined at"],
           "/admin/antiscalper/riskpolicy/": ["Review score", "Block score", "Ip cap"]}


@pytest.mark.parametrize("page", sorted(ENGLISH))
def test_in_english_the_columns_keep_their_old_names(world, superuser, page):
    response = browser(superuser, "en").get(page)
    headers = names_of(response.content.decode()).headers
    assert all(header in headers for header in ENGLISH[page]), headers
    assert not [header for header in headers if CJK.search(header)], headers


def test_in_english_an_order_page_and_the_index_keep_their_old_names(world, superuser):
    client = browser(superuser, "en")
    order = world["order"]
    labels = names_of(client.get(f"/admin/shop/order/{order.pk}/change/").content.decode())
    assert {"Payment due at", "Balance due", "Ticket", "Sku", "Unit price", "Gateway ref"} \
        <= set(labels.labels), labels.labels
    index = client.get("/admin/").content.decode()
    for name in ("Addresses", "Customers", "Orders", "Payments", "Products", "SKUs"):
        assert f">{name}</a>" in index, name
    customer = Customer.objects.get(pk=world["shopper"].pk)
    address = Address.objects.filter(customer=customer).first()
    labels = names_of(client.get(f"/admin/shop/address/{address.pk}/change/").content.decode())
    assert {"Recipient", "Line1", "Is default", "Deleted at"} <= set(labels.labels)


def test_the_order_actions_and_their_messages_are_in_chinese(superuser, make_order, customer):
    paid = make_order(user=customer.user, status=OrderStatus.PAID)
    unpaid = make_order(user=customer.user)
    client = browser(superuser, "zh-hans")
    assert "标记为已发货（仅限已付款订单）" in client.get("/admin/shop/order/").content.decode()
    response = client.post("/admin/shop/order/", {"action": "mark_shipped", "index": 0,
                                                  ACTION_CHECKBOX_NAME: [paid.pk, unpaid.pk]})
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == ["已将 1 个订单标记为已发货。", "1 个订单的状态不允许此操作。"], said
