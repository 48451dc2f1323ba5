""""Remind me" (提醒我, issue 18) in headless Chromium: pressed on the home page's card and on
the sale page, in Chinese and in English, on a desktop and on a phone (390x844); without a
script too; a logged-out shopper logs in and comes back; the button goes at the opening.
Screenshots in var/screenshots/ for people to look at."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.conf import settings

from sales.models import Reminder
from shop.tests.helpers import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
WORDS = {"zh-hans": {"remind": "提醒我", "set": "已设提醒", "cancel": "取消提醒"},
         "en": {"remind": "Remind me", "set": "Reminder set", "cancel": "Cancel reminder"}}


@pytest.fixture(autouse=True)
def shipped_language(settings):
    settings.STOREFRONT_LANGUAGE = importlib.import_module("config.settings").STOREFRONT_LANGUAGE


@pytest.fixture
def page_in(pages, live_server):
    """A page on a viewport in a language (Chinese, the store's own, or English as a shopper
    who switched has it: the language cookie)."""
    def make(viewport: str, language: str, customer=None, **options):
        page = pages(customer.user if customer is not None else None,
                     viewport=VIEWPORTS[viewport], is_mobile=viewport == "phone", **options)
        if language == "en":
            page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en",
                                       "url": live_server.url}])
        return page
    return make


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _card(page, sale):
    return page.locator(".sale-card", has=page.locator(f'a.card-link[href="/sales/{sale.pk}/"]'))


@pytest.mark.parametrize("language", WORDS)
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_shopper_presses_remind_me_on_the_card_and_on_the_sale_page(
        viewport, language, make_sale, make_customer, page_in, expect):
    words = WORDS[language]
    first, second = make_sale(starts_in=3600, load=False), make_sale(starts_in=7200, load=False)
    live = make_sale()
    shopper = make_customer()
    page = page_in(viewport, language, shopper)
    page.goto("/")
    expect(_card(page, live).get_by_role("button", name=words["remind"])).to_have_count(0)
    card = _card(page, first)
    card.get_by_role("button", name=words["remind"]).click()
    expect(card.locator("[data-reminded]")).to_have_text(words["set"])
    expect(card.get_by_role("button", name=words["cancel"])).to_be_visible()
    assert Reminder.objects.filter(sale=first, user=shopper.user).count() == 1
    _shot(page, f"remind-card-{language}-{viewport}")
    page.reload()  # the shopper's own page says so when it is loaded again
    expect(_card(page, first).locator("[data-reminded]")).to_have_text(words["set"])
    _card(page, first).get_by_role("button", name=words["cancel"]).click()
    expect(_card(page, first).get_by_role("button", name=words["remind"])).to_be_visible()
    assert not Reminder.objects.filter(sale=first, cancelled_at__isnull=True).exists()

    page.goto(f"/sales/{second.pk}/")
    page.get_by_role("button", name=words["remind"]).click()
    expect(page.locator(".sale [data-reminded]")).to_have_text(words["set"])
    assert Reminder.objects.filter(sale=second, user=shopper.user).count() == 1
    _shot(page, f"remind-sale-{language}-{viewport}")


def test_without_a_script_the_form_sets_the_reminder_and_comes_back(
        make_sale, make_customer, page_in, expect):
    sale = make_sale(starts_in=3600, load=False)
    shopper = make_customer()
    page = page_in("phone", "zh-hans", shopper, java_script_enabled=False)
    page.goto(f"/sales/{sale.pk}/")
    page.get_by_role("button", name="提醒我").click()
    page.wait_for_url(f"**/sales/{sale.pk}/")
    expect(page.locator(".note.success")).to_contain_text("开售前 5 分钟")
    expect(page.locator(".sale [data-reminded]")).to_have_text("已设提醒")
    assert Reminder.objects.get().language == "zh-hans"
    _shot(page, "remind-sale-no-script-zh-phone")


def test_a_logged_out_shopper_logs_in_and_comes_back_to_press_it(
        make_sale, make_customer, page_in, expect):
    sale = make_sale(starts_in=3600, load=False)
    shopper = make_customer()
    page = page_in("phone", "zh-hans")
    page.goto("/")
    _card(page, sale).get_by_role("link", name="提醒我").click()
    page.wait_for_url("**/login/?next=/")
    page.fill("input[name=username]", shopper.user.username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: url.endswith("/") and "/login/" not in url)
    _card(page, sale).get_by_role("button", name="提醒我").click()
    expect(_card(page, sale).locator("[data-reminded]")).to_have_text("已设提醒")
    assert Reminder.objects.filter(sale=sale, user=shopper.user).count() == 1


def test_the_button_goes_when_the_sale_opens(make_sale, make_customer, page_in, expect):
    sale = make_sale(starts_in=4, load=False)
    page = page_in("desktop", "en", make_customer())
    page.goto("/")
    button = _card(page, sale).locator("[data-remind]")
    expect(button).to_have_count(1)
    expect(button).to_have_count(0, timeout=10_000)
