"""What the storefront shows around the purchase (issue 18): product cards with the store's
own pictures and a countdown each, a buy button that knows the shopper bought, a sold-out
panel without the form, the payment choice at checkout, order numbers people can read."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from sales import services
from sales.gate.admission import Purchase
from sales.pipeline import orders as pipeline
from shop.models import Order, Payment
from shop.templatetags.order_format import readable_number
from shop.templatetags.product_art import product_svg
from shop.tests.helpers import page

pytestmark = pytest.mark.django_db


def _shopper(customer) -> Client:
    client = Client()
    client.force_login(customer.user)
    return client


def _bought(sale, customer, quantity: int = 1) -> Order:
    """The customer wins `quantity` units of the sale and its order is written."""
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=customer.user_id,
                                              quantity=quantity))
    pipeline.drain(sale_id=sale.pk)
    return Order.objects.get(user_id=customer.user_id, sale_id=sale.pk)


def test_the_sale_list_is_cards_with_a_picture_and_a_countdown_each(make_sale):
    live, upcoming = make_sale(), make_sale(starts_in=3600)
    body = page(Client().get("/"))
    cards = re.findall(r'<li class="card sale-card".*?</li>', body, flags=re.S)
    assert len(cards) == 2
    for card, sale in zip(cards, (live, upcoming), strict=True):
        assert f'href="/sales/{sale.pk}/"' in card
        assert '<svg class="art"' in card and "data-card-countdown" in card
        assert f'data-card-starts-ms="{int(sale.starts_at.timestamp() * 1000)}"' in card
    assert "data-server-ms=" in body


def test_a_products_picture_is_its_own_and_escapes_its_name():
    phone = product_svg(name="Mi 6", category="phone")
    assert phone == product_svg(name="Mi 6", category="phone")  # the same every time
    assert product_svg(name="Mi TV 4A", category="tv") != phone
    hostile = product_svg(name='<script>alert(1)</script>"', category="phone")
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile


def test_the_list_page_costs_the_same_queries_with_more_cards(
        make_sale, make_customer, django_assert_num_queries, django_assert_max_num_queries):
    """A logged-in shopper's list (never cached): the pictures, countdowns and "remind me"
    buttons cost no query per card (the product comes with the sale, the shopper's
    reminders in one query for the page)."""
    browser = _shopper(make_customer())
    make_sale()
    make_sale(starts_in=3600)  # an upcoming card: its "remind me" state is read for the page
    with django_assert_max_num_queries(50) as few:
        browser.get("/")
    for _n in range(11):
        make_sale(starts_in=3600)
    with django_assert_num_queries(len(few.captured_queries)):
        assert page(browser.get("/")).count('<svg class="art"') == 13


def test_a_shopper_who_bought_the_limit_is_sent_to_the_order_not_the_form(
        make_sale, make_customer):
    sale = make_sale(stock=5)
    buyer = make_customer()
    order = _bought(sale, buyer)
    body = page(_shopper(buyer).get(f"/sales/{sale.pk}/"))
    assert f'action="/sales/{sale.pk}/buy"' not in body
    assert f'href="/orders/{order.pk}/"' in body and "Bought: pay for your order" in body
    assert f'action="/sales/{sale.pk}/buy"' in page(_shopper(make_customer()).get(
        f"/sales/{sale.pk}/"))  # somebody else still gets the form


def test_a_shopper_below_the_limit_keeps_the_form_and_sees_the_order(make_sale, make_customer):
    sale = make_sale(stock=5, limit=2)
    buyer = make_customer()
    order = _bought(sale, buyer)
    body = page(_shopper(buyer).get(f"/sales/{sale.pk}/"))
    assert f'action="/sales/{sale.pk}/buy"' in body and f'href="/orders/{order.pk}/"' in body


def test_a_sold_out_sale_shows_the_panel_without_the_form(make_sale, make_customer):
    sale = make_sale(stock=1)
    _bought(sale, make_customer())
    for client in (Client(), _shopper(make_customer())):
        body = page(client.get(f"/sales/{sale.pk}/"))
        assert "data-sold-out" in body and "go back on sale" in body
        assert f'action="/sales/{sale.pk}/buy"' not in body and "Log in to buy" not in body


def test_checkout_offers_alipay_wechat_and_card_and_pays_with_the_choice(
        make_sale, make_customer):
    sale = make_sale()
    buyer = make_customer()
    order = _bought(sale, buyer)
    browser = _shopper(buyer)
    checkout = page(browser.get(f"/orders/{order.pk}/"))
    assert [m for m in ("alipay", "wechat", "card") if f'value="{m}"' in checkout] == [
        "alipay", "wechat", "card"]
    assert readable_number(order.number) in checkout
    paid = browser.post(f"/orders/{order.pk}/pay", {"key": "k-1", "method": "wechat"})
    assert paid.status_code == 302
    assert Payment.objects.get(order=order).method == "wechat"


def test_an_unknown_payment_method_is_refused_next_to_the_choice_and_charges_nothing(
        make_sale, make_customer):
    sale = make_sale()
    buyer = make_customer()
    order = _bought(sale, buyer)
    refused = _shopper(buyer).post(f"/orders/{order.pk}/pay",
                                   {"key": "k-2", "method": "bitcoin"})
    assert refused.status_code == 400 and "Choose how to pay." in page(refused)
    assert not Payment.objects.filter(order=order).exists()


@pytest.mark.parametrize("number, shown", [
    ("251203ABCDEF012345", "251203 ABCD EF01 2345"),
    ("251203AB", "251203 AB"),
    ("LEGACY-7", "LEGACY-7"),
    ("251203", "251203"),
])
def test_order_numbers_read_in_groups(number, shown):
    assert readable_number(number) == shown
