"""Review of retried address adds: the API's POST takes an Idempotency-Key, and the
storefront's own form, its main client, must be as safe to send twice (a double click, a
reload of the answer, a phone that lost the first answer and sends it again)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

from shop.models import Address
from shop.tests.helpers import bearer_client, csrf_post, page, run_together

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")

HOME = {"recipient": "雷军", "phone": "13800138011", "province": "北京市", "city": "北京市",
        "district": "海淀区", "line1": "清河中街68号", "postcode": "100085"}


def add_form(browser: Client) -> dict:
    """The add form's hidden fields as the page gives them, with the address typed in."""
    body = page(browser.get("/account/addresses/"))
    form = body.split('<form method="post" action="/account/addresses/">', 1)[1]
    form = form.split("</form>", 1)[0]
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    hidden.pop("csrfmiddlewaretoken", None)
    return {**hidden, **HOME}


def test_the_add_form_sent_twice_adds_one_address(make_customer):
    customer = make_customer(with_address=False)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer.user)
    form = add_form(browser)
    first = csrf_post(browser, "/account/addresses/", form)
    again = csrf_post(browser, "/account/addresses/", form)
    assert first.status_code == again.status_code == 302
    assert Address.objects.filter(customer=customer).count() == 1


def test_the_form_shown_again_adds_a_second_address(make_customer):
    customer = make_customer(with_address=False)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer.user)
    assert csrf_post(browser, "/account/addresses/", add_form(browser)).status_code == 302
    assert csrf_post(browser, "/account/addresses/", add_form(browser)).status_code == 302
    assert Address.objects.filter(customer=customer).count() == 2  # two forms, two adds


def test_the_api_refuses_in_english_with_a_chinese_cookie_and_accept_language(make_customer):
    customer = make_customer(with_address=False)
    api = bearer_client(customer.user)
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    missing = api.post("/api/v1/me/addresses", {"recipient": "雷军"}, format="json",
                       HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert missing.status_code == 400
    assert missing.json()["error"]["details"]["city"] == ["This field is required."]
    bad_key = api.post("/api/v1/me/addresses", HOME, format="json", HTTP_IDEMPOTENCY_KEY=" ",
                       HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert bad_key.json()["error"]["message"].startswith("Idempotency-Key must be")
    gone = api.get("/api/v1/me/addresses/999999", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert gone.status_code == 404 and not CJK.search(gone.content.decode())
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert schema.status_code == 200
    assert schema.content == Client().get("/api/v1/schema/").content  # as an English client's


@pytest.mark.django_db(transaction=True)
def test_one_key_racing_with_two_addresses_adds_one_and_refuses_the_other(make_customer):
    customer = make_customer(with_address=False)
    other = {**HOME, "line1": "天府大道1号"}

    def post(body: dict):
        return bearer_client(customer.user).post("/api/v1/me/addresses", body, format="json",
                                                 HTTP_IDEMPOTENCY_KEY="one-key")

    answers = run_together(*[lambda body=body: post(body) for body in (HOME, other) * 2])
    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) <= {201, 409, 503}, statuses  # SQLite's lock wait may be a 503
    (kept,) = Address.objects.filter(customer=customer)
    added = {answer.json()["id"] for answer in answers if answer.status_code == 201}
    assert added == {kept.pk}
    refused = [a for a in answers if a.status_code == 409]
    assert all(a.json()["error"]["code"] == "idempotency_key_reused" for a in refused)
    assert 201 in statuses
