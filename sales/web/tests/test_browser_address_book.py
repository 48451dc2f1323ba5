"""The address book and checkout in headless Chromium, in Chinese and in English, on a
desktop and on a phone (issue 18 point 2): a wrong box says so beside it, an address is
added with 省/市/区, made the default, edited, offered first at checkout, bought with, and
deleted behind a confirmation, while the order keeps the address it was placed with.
Screenshots of each page go to var/screenshots/ for people to look at."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.conf import settings

from sales.pipeline import orders as pipeline
from shop import address_book
from shop.models import Address, Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
WORDS = {
    "zh": {"default": "默认", "set_default": "设为默认", "edit": "编辑", "delete": "删除",
           "add": "保存地址", "save": "保存地址", "added": "地址已添加",
           "bad_phone": "请输入有效的手机号。", "province": "省份", "district": "区县",
           "confirm": "确定删除这个地址吗？", "delete_it": "删除地址", "buy": "立即购买",
           "deleted": "地址已删除"},
    "en": {"default": "Default", "set_default": "Set as default", "edit": "Edit",
           "delete": "Delete", "add": "Add the address", "save": "Save the address",
           "added": "Address added", "bad_phone": "Enter a valid phone number.",
           "province": "Province", "district": "District", "confirm": "Delete this address?",
           "delete_it": "Delete the address", "buy": "Buy now", "deleted": "Address deleted"},
}
OFFICE = {"recipient": "林斌", "phone": "call me", "province": "北京市", "city": "北京市",
          "district": "海淀区", "line1": "西二旗小米科技园", "postcode": "100085"}


@pytest.fixture(autouse=True)
def shipped_language(settings):
    settings.STOREFRONT_LANGUAGE = importlib.import_module("config.settings").STOREFRONT_LANGUAGE


def _page(pages, live_server, customer, language: str, viewport: str):
    page = pages(customer.user, viewport=VIEWPORTS[viewport], locale="en-US",
                 is_mobile=viewport == "phone")
    if language == "en":  # the header's switch sets this cookie
        page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en",
                                   "url": live_server.url}])
    return page


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _fits(page) -> None:
    """Nothing wider than the screen: no sideways scrolling on a phone."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _live(customer) -> list[Address]:
    return list(Address.objects.filter(customer=customer, deleted_at__isnull=True)
                .order_by("pk"))


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("language", WORDS)
def test_a_shopper_keeps_an_address_book_and_checks_out_to_the_default(
        language, viewport, make_sale, make_customer, pages, live_server, expect):
    words, tag = WORDS[language], f"{language}-{viewport}"
    customer = make_customer()  # registered with one address: the default
    [registered] = _live(customer)
    page = _page(pages, live_server, customer, language, viewport)
    page.goto("/account/addresses/")
    expect(page.locator(f"#address-{registered.pk} .badge")).to_have_text(words["default"])
    form = page.locator("form[action='/account/addresses/']")
    expect(form).to_contain_text(words["province"])
    expect(form).to_contain_text(words["district"])

    for name, value in OFFICE.items():  # a phone number that is none: refused beside its box
        form.locator(f"input[name='{name}']").fill(value)
    form.get_by_role("button", name=words["add"]).click()
    expect(page.locator("#problem-phone")).to_have_text(words["bad_phone"])
    expect(form.locator("input[name='phone']")).to_have_attribute("aria-invalid", "true")
    expect(form.locator("input[name='line1']")).to_have_value(OFFICE["line1"])  # kept
    _fits(page)
    _shot(page, f"address-book-problem-{tag}")

    form.locator("input[name='phone']").fill("139 0013 9000")
    form.get_by_role("button", name=words["add"]).click()
    expect(page.locator(".notes")).to_contain_text(words["added"])
    office = _live(customer)[-1]
    expect(page.locator(f"#address-{office.pk}")).to_contain_text("海淀区")
    page.locator(f"#address-{office.pk}").get_by_role(
        "button", name=words["set_default"]).click()
    expect(page.locator(f"#address-{office.pk} .badge")).to_have_text(words["default"])
    expect(page.locator(f"#address-{registered.pk} .badge")).to_have_count(0)
    _fits(page)
    _shot(page, f"address-book-{tag}")

    page.locator(f"#address-{office.pk}").get_by_role("link", name=words["edit"]).click()
    page.wait_for_url(f"**/account/addresses/{office.pk}/edit/")
    expect(page.locator("input[name='district']")).to_have_value("海淀区")
    page.locator("input[name='line1']").fill("西二旗小米科技园2号楼")
    _fits(page)
    _shot(page, f"address-edit-{tag}")
    page.get_by_role("button", name=words["save"]).click()
    page.wait_for_url("**/account/addresses/")
    office = _live(customer)[-1]  # the edit is a new version
    expect(page.locator(f"#address-{office.pk}")).to_contain_text("西二旗小米科技园2号楼")
    expect(page.locator(f"#address-{office.pk} .badge")).to_have_text(words["default"])

    sale = make_sale(stock=5)
    page.goto(f"/sales/{sale.pk}/")
    chosen = page.locator("select[name='address_id']")
    expect(chosen).to_have_value(str(office.pk))  # the default first and chosen
    expect(chosen.locator("option")).to_have_count(2)  # the other one offered
    expect(chosen.locator("option").first).to_contain_text(words["default"])
    _fits(page)
    _shot(page, f"checkout-address-{tag}")
    page.get_by_role("button", name=words["buy"]).click()
    page.wait_for_url("**/tickets/*/")
    assert pipeline.drain(sale_id=sale.pk) == 1
    order = Order.objects.get(sale_id=sale.pk)
    assert order.address_id == office.pk

    page.goto(f"/account/addresses/{registered.pk}/delete/")
    expect(page.get_by_role("heading", name=words["confirm"])).to_be_visible()
    _fits(page)
    _shot(page, f"address-delete-{tag}")
    page.get_by_role("button", name=words["delete_it"]).click()
    expect(page.locator(".notes")).to_contain_text(words["deleted"])
    expect(page.locator(f"#address-{registered.pk}")).to_have_count(0)

    address_book.address_update(user_id=customer.user_id, address_id=office.pk,
                                line1="别的地方")  # after buying: the order keeps its text
    page.goto(f"/orders/{order.pk}/")
    expect(page.locator("main .where")).to_contain_text("西二旗小米科技园2号楼")
    _shot(page, f"order-address-{tag}")
