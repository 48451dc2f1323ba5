"""The storefront's phone page (/account/phone/): after registering, a shopper asks for a
code, types it in, and the phone is confirmed; every refusal is a sentence, never a trace."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from shop.models import Customer
from shop.tests.helpers import csrf_post, page, registration

pytestmark = pytest.mark.django_db


def _registered() -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.get("/register/")
    done = csrf_post(browser, "/register/", registration())
    assert done.status_code == 302
    return browser


def test_a_new_shopper_confirms_the_phone_with_the_texted_code(sms_outbox):
    browser = _registered()
    assert "/account/phone/" in page(browser.get("/orders/"))  # the welcome says where
    form = browser.get("/account/phone/")
    assert form.status_code == 200 and "13800138000" in page(form)

    sent = csrf_post(browser, "/account/phone/", {"action": "send"})
    assert sent.status_code == 302 and [t.phone for t in sms_outbox] == ["13800138000"]
    code = re.search(r"\b(\d{6})\b", sms_outbox[-1].message).group(1)
    wrong = csrf_post(browser, "/account/phone/", {"action": "confirm",
                                                   "code": "000000" if code != "000000"
                                                   else "111111"})
    assert wrong.status_code == 400 and "wrong" in page(wrong)
    done = csrf_post(browser, "/account/phone/", {"action": "confirm", "code": code})
    assert done.status_code == 302
    assert Customer.objects.get().phone_verified_at is not None
    assert "is confirmed" in page(browser.get("/account/phone/"))


@pytest.mark.parametrize("code", ["", "abc", "1" * 10_000, "12345\x00"])
def test_a_malformed_code_is_a_sentence_on_the_page(sms_outbox, code):
    browser = _registered()
    csrf_post(browser, "/account/phone/", {"action": "send"})
    refused = csrf_post(browser, "/account/phone/", {"action": "confirm", "code": code})
    assert refused.status_code == 400 and "Traceback" not in page(refused)
    assert "6 digits" in page(refused) or "NUL" in page(refused)  # core's middleware


def test_asking_twice_at_once_is_refused_with_a_sentence(sms_outbox):
    browser = _registered()
    csrf_post(browser, "/account/phone/", {"action": "send"})
    again = csrf_post(browser, "/account/phone/", {"action": "send"})
    assert again.status_code == 429 and len(sms_outbox) == 1


def test_the_page_needs_a_login_and_the_csrf_token(db):
    assert Client().get("/account/phone/").status_code == 302
    browser = _registered()
    forged = browser.post("/account/phone/", {"action": "send"})
    assert forged.status_code == 403
