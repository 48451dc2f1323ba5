"""The storefront's "remind me" (提醒我, issue 18) without a script: a form on an upcoming
sale's card and page that comes back to where it was, a link to log in for anonymous
shoppers, nothing once the sale has opened, and never one shopper's reminder in another's
page, even through the copy of the home page every anonymous shopper shares."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

from sales import services
from sales.models import Reminder
from shop.tests.helpers import csrf_post, page

pytestmark = pytest.mark.django_db


def _shopper(customer) -> Client:
    client = Client()
    client.force_login(customer.user)
    return client


def _card(body: str, sale) -> str:
    [card] = [c for c in re.findall(r'<li class="card sale-card".*?</li>', body, flags=re.S)
              if f'href="/sales/{sale.pk}/"' in c]
    return card


@pytest.fixture
def upcoming(make_sale):
    return make_sale(starts_in=3600, load=False)


def test_an_upcoming_card_offers_remind_me_and_a_live_one_does_not(
        upcoming, make_sale, customer):
    live = make_sale()
    body = page(_shopper(customer).get("/"))
    card = _card(body, upcoming)
    assert f'action="/sales/{upcoming.pk}/remind"' in card and "Remind me" in card
    assert 'name="csrfmiddlewaretoken"' in card and 'name="remind" value="on"' in card
    assert "data-remind" not in _card(body, live)


def test_pressing_remind_me_on_a_card_sets_it_and_comes_back_to_the_list(upcoming, customer):
    browser = _shopper(customer)
    browser.get("/")
    pressed = csrf_post(browser, f"/sales/{upcoming.pk}/remind", {"remind": "on", "next": "/"})
    assert pressed.status_code == 302 and pressed["Location"] == "/"
    assert Reminder.objects.filter(sale=upcoming, user=customer.user).count() == 1
    card = _card(page(browser.get("/")), upcoming)
    assert "Reminder set" in card and 'name="remind" value="off"' in card
    assert "Cancel reminder" in card
    again = csrf_post(browser, f"/sales/{upcoming.pk}/remind", {"remind": "on", "next": "/"})
    assert again.status_code == 302 and Reminder.objects.count() == 1  # pressed twice: one


def test_the_sale_page_sets_and_cancels_the_reminder(upcoming, customer):
    browser = _shopper(customer)
    here = f"/sales/{upcoming.pk}/"
    assert "Remind me" in page(browser.get(here))
    csrf_post(browser, f"/sales/{upcoming.pk}/remind", {"next": here})
    body = page(browser.get(here))
    assert "Reminder set" in body and "we will text you 5 minutes before" in body
    cancelled = csrf_post(browser, f"/sales/{upcoming.pk}/remind",
                          {"remind": "off", "next": here})
    assert cancelled["Location"] == here
    assert not Reminder.objects.filter(cancelled_at__isnull=True).exists()  # kept, cancelled
    body = page(browser.get(here))
    assert "Reminder cancelled." in body and "Reminder set" not in body


def test_a_logged_out_shopper_is_sent_to_log_in_and_back(upcoming):
    anonymous = Client()
    body = page(anonymous.get(f"/sales/{upcoming.pk}/"))
    assert f'href="/login/?next=/sales/{upcoming.pk}/"' in body and "Remind me" in body
    assert 'href="/login/?next=/"' in _card(page(anonymous.get("/")), upcoming)
    pressed = anonymous.post(f"/sales/{upcoming.pk}/remind", {"next": "/"})
    assert pressed.status_code == 302 and pressed["Location"] == "/login/?next=%2F"
    assert not Reminder.objects.exists()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)", "", "x" * 5000])
def test_the_form_never_sends_a_shopper_elsewhere(upcoming, customer, target):
    browser = _shopper(customer)
    browser.get("/")
    pressed = csrf_post(browser, f"/sales/{upcoming.pk}/remind", {"next": target})
    assert pressed.status_code == 302 and pressed["Location"] == f"/sales/{upcoming.pk}/"


def test_a_form_without_its_csrf_token_changes_nothing(upcoming, customer):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer.user)
    assert browser.post(f"/sales/{upcoming.pk}/remind", {"next": "/"}).status_code == 403
    assert not Reminder.objects.exists()


def test_an_open_sale_refuses_a_reminder_with_a_sentence(make_sale, customer):
    live = make_sale()
    browser = _shopper(customer)
    browser.get("/")
    refused = csrf_post(browser, f"/sales/{live.pk}/remind", {"next": "/"})
    assert refused.status_code == 409 and "already opened" in page(refused)
    assert "data-remind" not in page(browser.get(f"/sales/{live.pk}/"))
    assert not Reminder.objects.exists()


def test_an_unknown_sale_is_a_not_found_page(customer):
    browser = _shopper(customer)
    browser.get("/")
    assert csrf_post(browser, "/sales/987654/remind", {"next": "/"}).status_code == 404


def test_the_script_gets_the_new_button_as_json(upcoming, customer):
    browser = _shopper(customer)
    browser.get("/")
    answer = csrf_post(browser, f"/sales/{upcoming.pk}/remind", {"next": "/"},
                       HTTP_ACCEPT="application/json")
    assert answer.status_code == 200 and answer.json()["reminded"] is True
    assert "Reminder set" in answer.json()["html"] and "no-cache" in answer["Cache-Control"]
    refused = csrf_post(browser, "/sales/987654/remind", {}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"


def test_shopper_b_never_sees_shopper_as_reminder_even_through_the_shared_home_page(
        upcoming, make_customer):
    a, b = make_customer(), make_customer()
    anonymous = Client()
    shared = page(anonymous.get("/"))  # the copy every anonymous shopper shares is made now
    services.reminder_set(sale_id=upcoming.pk, user_id=a.user_id)
    a_home = _shopper(a).get("/")
    assert "Reminder set" in _card(page(a_home), upcoming)
    assert "no-cache" in a_home["Cache-Control"] and "private" in a_home["Cache-Control"]
    for body in (page(_shopper(b).get("/")), page(_shopper(b).get(f"/sales/{upcoming.pk}/")),
                 page(anonymous.get("/")), page(Client().get(f"/sales/{upcoming.pk}/")), shared):
        assert "Reminder set" not in body and 'value="off"' not in body
        assert "Remind me" in body
    assert 'name="csrfmiddlewaretoken"' not in _card(page(anonymous.get("/")), upcoming)


def test_the_reminder_reads_in_chinese_on_a_chinese_page(upcoming, customer):
    browser = _shopper(customer)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    assert "提醒我" in _card(page(browser.get("/")), upcoming)
    csrf_post(browser, f"/sales/{upcoming.pk}/remind", {"next": "/"})
    body = page(browser.get("/"))
    assert "已设提醒" in _card(body, upcoming) and "取消提醒" in body
    assert Reminder.objects.get().language == "zh-hans"


def _said(browser, sale) -> str:
    """The message the page shows after pressing remind me."""
    browser.get("/")
    pressed = csrf_post(browser, f"/sales/{sale.pk}/remind", {"remind": "on", "next": "/"},
                        follow=True)
    return " ".join(page(pressed).split())


def test_what_setting_promises_follows_where_the_reminder_stands(make_sale, customer,
                                                                 settings):
    """Minutes before, when the lead is still ahead; in a moment, inside the lead; and no
    promise at all once the text for this opening went out (it is not sent twice)."""
    settings.REMINDER_LEAD_SECONDS = 300
    browser = _shopper(customer)
    far = make_sale(starts_in=3600, load=False)
    assert "we will text you 5 minutes before" in _said(browser, far)
    near = make_sale(starts_in=120, load=False)
    assert "we will text you in a moment" in _said(browser, near)
    assert services.reminders_send_due() == 1  # the near one, texted now
    csrf_post(browser, f"/sales/{near.pk}/remind", {"remind": "off", "next": "/"})
    assert "Reminder cancelled" in " ".join(page(browser.get("/")).split())
    again = _said(browser, near)
    assert "We already texted you about this sale at" in again and "will text" not in again
    assert services.reminders_send_due() == 0  # and it is not texted twice
