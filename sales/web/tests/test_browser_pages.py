"""Every storefront page a shopper meets, in both languages and on a desktop and a phone, in
headless Chromium (issue 18, point 6): each page speaks the language chosen and nothing of the
other (no sentence of our catalogue left in English on a Chinese page, no Chinese on an English
one but the switch back), and fits its screen (nothing wider than the viewport). A screenshot
of each for people to look at (var/screenshots/pages-<page>-<language>-<viewport>.png).

The invariant reads the catalogue itself (locale/zh_Hans/.../django.po), so a sentence added
tomorrow without its Chinese fails here without anyone writing a test for it.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from django.conf import settings

from antiscalper import services as antiscalper
from core.tests.catalogue import english_sentences
from sales import services
from sales.gate.admission import Purchase
from sales.pipeline import orders as pipeline
from shop.models import Order
from shop.payments import order_pay

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
LANGUAGES = {"zh": "zh-hans", "en": "en"}
HAN = re.compile(r"[\u4e00-\u9fff]")
LITERAL_MIN = 14  # shorter fragments ("Sold out") may be a product's or a person's words


ENGLISH = english_sentences(shortest=LITERAL_MIN)


@pytest.fixture(autouse=True)
def shipped_language(settings):
    settings.STOREFRONT_LANGUAGE = importlib.import_module("config.settings").STOREFRONT_LANGUAGE


def _bought(sale, customer) -> Order:
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=customer.user_id))
    pipeline.drain(sale_id=sale.pk)
    return Order.objects.get(user_id=customer.user_id, sale_id=sale.pk)


def home(make_sale, make_customer):
    make_sale(), make_sale(starts_in=3600)
    return None, "/"


def sale_live(make_sale, make_customer):
    return make_customer(), f"/sales/{make_sale(stock=5).pk}/"


def sale_upcoming(make_sale, make_customer):
    return make_customer(), f"/sales/{make_sale(starts_in=3600).pk}/"


def sale_sold_out(make_sale, make_customer):
    sale = make_sale(stock=1)
    _bought(sale, make_customer())
    return make_customer(), f"/sales/{sale.pk}/"


def sale_bought(make_sale, make_customer):
    sale, buyer = make_sale(), make_customer()
    _bought(sale, buyer)
    return buyer, f"/sales/{sale.pk}/"


def checkout(make_sale, make_customer):
    buyer = make_customer()
    return buyer, f"/orders/{_bought(make_sale(), buyer).pk}/"


def paid_order(make_sale, make_customer):
    buyer = make_customer()
    order = _bought(make_sale(), buyer)
    order_pay(order_id=order.pk, user_id=buyer.user_id, idempotency_key="pages-paid",
              method="alipay")
    return buyer, f"/orders/{order.pk}/"


def order_list(make_sale, make_customer):
    buyer = make_customer()
    _bought(make_sale(), buyer)
    return buyer, "/orders/"


def appeal(make_sale, make_customer):
    blocked = make_customer()
    antiscalper.blacklist_add(kind="account", value=str(blocked.user_id), reason="ring")
    return blocked, "/appeal/"


def addresses(make_sale, make_customer):
    return make_customer(), "/account/addresses/"


def login(make_sale, make_customer):
    return None, "/login/"


def register(make_sale, make_customer):
    return None, "/register/"


PAGES = {f.__name__.replace("_", "-"): f for f in (
    home, sale_live, sale_upcoming, sale_sold_out, sale_bought, checkout, paid_order,
    order_list, appeal, addresses, login, register)}


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", PAGES)
def test_each_page_speaks_one_language_and_fits_its_screen(
        name, language, viewport, make_sale, make_customer, pages, live_server, expect):
    shopper, path = PAGES[name](make_sale, make_customer)
    page = pages(shopper.user if shopper is not None else None, viewport=VIEWPORTS[viewport],
                 locale="en-US", is_mobile=viewport == "phone")
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME,
                               "value": LANGUAGES[language], "url": live_server.url}])
    response = page.goto(path)
    assert response is not None and response.status == 200, (name, response and response.status)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if language == "zh" else "en")
    text = page.locator("body").inner_text()
    if language == "zh":
        assert HAN.search(text), name
        left = [sentence for sentence in ENGLISH if sentence in text]
        assert not left, f"{name}: English left on the Chinese page: {left}"
    else:
        # the Chinese page's check has sentences of this page to look for
        assert any(sentence in text for sentence in ENGLISH), name
        assert HAN.sub("", text.replace("中文", "")) == text.replace("中文", ""), \
            f"{name}: Chinese on the English page: {HAN.findall(text.replace('中文', ''))}"
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= VIEWPORTS[viewport]["width"], f"{name} is {wide} px wide on a {viewport}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"pages-{name}-{language}-{viewport}.png"),
                    full_page=True)


def test_the_catalogue_gives_this_module_sentences_to_look_for():
    """The check above is only as good as its list: the catalogue's sentences are read."""
    assert len(ENGLISH) > 50
    assert any(sentence.startswith("Unpaid") or "come back" in sentence for sentence in ENGLISH)
