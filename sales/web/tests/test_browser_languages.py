"""The storefront in both its languages, on a desktop and on a phone, in headless Chromium
(issue 18): Simplified Chinese until the shopper switches, the page's own script (the
countdown, the status) speaking the page's language, and screenshots of each for people to
look at (var/screenshots/)."""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings

from antiscalper import services as antiscalper
from sales import services
from sales.gate.admission import Purchase
from sales.pipeline import orders as pipeline
from sales.returns import sale_order_expire
from shop.models import Order, Payment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(autouse=True)
def shipped_language(settings):
    settings.STOREFRONT_LANGUAGE = importlib.import_module("config.settings").STOREFRONT_LANGUAGE


@pytest.fixture
def page_on(pages):
    """A page on a viewport, as a phone's or a desktop's browser sends it (an
    English-speaking browser: the store answers in Chinese all the same)."""
    def make(viewport: str, customer=None):
        return pages(customer.user if customer is not None else None,
                     viewport=VIEWPORTS[viewport], locale="en-US",
                     is_mobile=viewport == "phone")
    return make


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_shopper_reads_the_sale_in_chinese_then_switches_to_english(
        viewport, make_sale, make_customer, page_on, expect):
    sale = make_sale(stock=5)
    page = page_on(viewport, make_customer())
    page.goto(f"/sales/{sale.pk}/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("[data-status]")).to_have_text("正在抢购")
    expect(page.locator("[data-countdown]")).to_contain_text("距结束")
    expect(page.get_by_role("button", name="立即购买")).to_be_enabled()
    expect(page.get_by_role("link", name="我的订单")).to_be_visible()
    _shot(page, f"sale-zh-{viewport}")

    page.get_by_role("link", name="English").click()
    page.wait_for_url(f"**/sales/{sale.pk}/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("[data-status]")).to_have_text("On sale now")
    expect(page.locator("[data-countdown]")).to_contain_text("Ends in")
    expect(page.get_by_role("button", name="Buy now")).to_be_enabled()
    _shot(page, f"sale-en-{viewport}")
    page.get_by_role("link", name="中文").click()
    expect(page.locator("[data-status]")).to_have_text("正在抢购")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_blocked_shopper_reads_why_in_plain_chinese_and_appeals(
        viewport, make_sale, make_customer, page_on, expect):
    sale = make_sale()
    blocked = make_customer()
    antiscalper.blacklist_add(kind="account", value=str(blocked.user_id),
                              reason="device_accounts 40, score 95")
    page = page_on(viewport, blocked)
    page.goto(f"/sales/{sale.pk}/")
    with page.expect_navigation():
        page.get_by_role("button", name="立即购买").click()
    expect(page.get_by_role("heading", name="您暂时不能购买")).to_be_visible()
    expect(page.locator(".refusal .fields")).to_have_text("您的账号已被列入限制名单。")
    expect(page.locator(".refusal")).not_to_contain_text("device_accounts")
    expect(page.locator(".refusal")).not_to_contain_text("95")
    page.get_by_label("请告诉我们为什么这是误判").fill("我是真粉丝，这是我唯一的手机。")
    page.get_by_role("button", name="提交申诉").click()
    page.wait_for_url("**/appeal/")
    expect(page.locator(".appeal-status")).to_contain_text("正在等待工作人员阅读")
    expect(page.get_by_role("button", name="提交申诉")).to_have_count(0)
    _shot(page, f"blocked-zh-{viewport}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_sale_list_shows_product_cards_counting_down_in_chinese(
        viewport, make_sale, page_on, expect):
    live, upcoming = make_sale(), make_sale(starts_in=3600)
    page = page_on(viewport)
    page.goto("/")
    cards = page.locator(".sale-card")
    expect(cards).to_have_count(2)
    expect(cards.nth(0).locator("svg.art")).to_be_visible()
    expect(cards.nth(0).locator("[data-card-countdown]")).to_contain_text("距结束")
    expect(cards.nth(1).locator("[data-card-countdown]")).to_contain_text("距开抢")
    expect(cards.nth(1)).to_contain_text("开抢")
    assert f"/sales/{live.pk}/" in cards.nth(0).locator("a").first.get_attribute("href")
    assert f"/sales/{upcoming.pk}/" in cards.nth(1).locator("a").first.get_attribute("href")
    _shot(page, f"sales-zh-{viewport}")


def test_a_sold_out_page_turns_its_buy_button_back_on_when_a_unit_comes_back(
        make_sale, make_customer, page_on, expect):
    sale = make_sale(stock=1)
    first = make_customer()
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=first.user_id))
    pipeline.drain(sale_id=sale.pk)
    order = Order.objects.get(user_id=first.user_id, sale_id=sale.pk)
    page = page_on("phone", make_customer())
    page.goto(f"/sales/{sale.pk}/")
    expect(page.locator("[data-sold-out]")).to_be_visible()
    expect(page.get_by_role("button", name="立即购买")).to_have_count(0)
    _shot(page, "sold-out-zh-phone")
    assert sale_order_expire(order_id=order.pk,
                             now=order.payment_due_at + timedelta(seconds=1))
    # live.js polls every 5-7 s and loads the page again once the sale is live again.
    expect(page.get_by_role("button", name="立即购买")).to_be_visible(timeout=15_000)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_checkout_in_chinese_offers_alipay_wechat_and_card(
        viewport, make_sale, make_customer, page_on, expect):
    sale = make_sale()
    buyer = make_customer()
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=buyer.user_id))
    pipeline.drain(sale_id=sale.pk)
    order = Order.objects.get(user_id=buyer.user_id, sale_id=sale.pk)
    page = page_on(viewport, buyer)
    page.goto(f"/sales/{sale.pk}/")
    page.get_by_role("link", name="已抢到：去付款").click()
    expect(page.get_by_role("radio", name="支付宝")).to_be_checked()
    expect(page.get_by_role("radio", name="微信支付")).to_be_visible()
    expect(page.locator(".countdown")).to_contain_text("剩余")
    _shot(page, f"checkout-zh-{viewport}")
    page.get_by_role("radio", name="微信支付").check()
    page.get_by_role("button", name=f"立即付款 ¥{order.total}").click()
    expect(page.locator(".notes")).to_contain_text("付款成功")
    expect(page.locator(".status")).to_have_text("已付款")
    assert Payment.objects.get(order=order).method == "wechat"
