"""The storefront's account and order pages: session auth with CSRF on every form, my
orders, checkout with pay and cancel, and every refusal as a sentence."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client

from core.errors import DomainError, ErrorCode
from core.sentences import SENTENCES, sentence_for
from shop.models import Customer, OrderStatus
from shop.templatetags.order_format import readable_number
from shop.tests.helpers import PASSWORD, csrf_post, page, registration

pytestmark = pytest.mark.django_db

def test_registering_needs_the_csrf_token_then_logs_the_shopper_in():
    browser = Client(enforce_csrf_checks=True)
    form = browser.get("/register/")
    assert form.status_code == 200 and "csrfmiddlewaretoken" in page(form)
    forged = browser.post("/register/", registration())
    assert forged.status_code == 403 and not Customer.objects.exists()

    done = csrf_post(browser, "/register/", registration())
    assert done.status_code == 302
    customer = Customer.objects.get(user__username="leijun")
    assert customer.addresses.get().city == "Beijing"
    assert "Welcome, leijun" in page(browser.get("/orders/"))
    assert browser.cookies["device_id"].value


def test_registration_problems_are_sentences_on_the_form(make_customer):
    make_customer(username="taken")
    browser = Client()
    weak = browser.post("/register/", registration(password="123"))
    assert weak.status_code == 400 and "need another look" in page(weak)
    assert "Password:" in page(weak) and 'value="leijun"' in page(weak)
    taken = browser.post("/register/", registration(username="taken"))
    assert taken.status_code == 400 and "already taken" in page(taken)
    no_address = browser.post("/register/", registration(city=""))
    assert no_address.status_code == 400 and "City: Needed for delivery." in page(no_address)


def test_logging_in_and_out_with_csrf(make_customer):
    customer = make_customer()
    browser = Client(enforce_csrf_checks=True)
    browser.get("/login/")
    wrong = csrf_post(browser, "/login/", {"username": customer.user.username,
                                           "password": "nope"})
    assert wrong.status_code == 200 and "do not match" in page(wrong)
    ok = csrf_post(browser, "/login/", {"username": customer.user.username,
                                        "password": PASSWORD, "next": "/orders/"})
    assert ok.status_code == 302 and ok["Location"] == "/orders/"
    assert "My orders" in page(browser.get("/orders/"))
    assert browser.post("/logout/").status_code == 403  # no token, no logout
    assert csrf_post(browser, "/logout/").status_code == 302
    assert browser.get("/orders/")["Location"].startswith("/login/?next=/orders/")


def test_my_orders_lists_only_mine_and_someone_elses_order_is_a_friendly_404(
        make_customer, make_order):
    me, other = make_customer(), make_customer()
    mine = make_order(user=me.user)
    theirs = make_order(user=other.user)
    browser = Client()
    browser.force_login(me.user)
    listing = page(browser.get("/orders/"))
    assert readable_number(mine.number) in listing
    assert readable_number(theirs.number) not in listing
    missing = browser.get(f"/orders/{theirs.pk}/")
    assert missing.status_code == 404 and "No such order" in page(missing)
    assert "Traceback" not in page(missing)
    assert browser.post(f"/orders/{theirs.pk}/pay", {"key": "x"}).status_code == 404


def test_checkout_pays_once_per_form_and_shows_the_deadline(make_customer, make_order):
    me = make_customer()
    order = make_order(user=me.user)
    browser = Client()
    browser.force_login(me.user)
    checkout = page(browser.get(f"/orders/{order.pk}/"))
    assert "Pay now" in checkout and "data-deadline-ms" in checkout and "Pay by" in checkout
    key = re.search(r'name="key" value="([^"]+)"', checkout).group(1)
    assert browser.post(f"/orders/{order.pk}/pay", {"key": key}).status_code == 302
    assert browser.post(f"/orders/{order.pk}/pay", {"key": key}).status_code == 302  # replay
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.payments.count() == 1
    cancel = browser.post(f"/orders/{order.pk}/cancel")
    assert cancel.status_code == 409 and "can no longer be cancelled" in page(cancel)


def test_an_unpaid_order_can_be_cancelled_and_a_late_payment_is_explained(
        make_customer, make_order):
    me = make_customer()
    browser = Client()
    browser.force_login(me.user)
    fresh = make_order(user=me.user)
    assert browser.post(f"/orders/{fresh.pk}/cancel").status_code == 302
    fresh.refresh_from_db()
    assert fresh.status == OrderStatus.CANCELLED
    assert "Order cancelled." in page(browser.get(f"/orders/{fresh.pk}/"))
    gone = browser.post(f"/orders/{fresh.pk}/pay", {"key": "k"})
    assert gone.status_code == 409 and "cannot be paid right now" in page(gone)

    late = make_order(user=me.user, due_in=timedelta(seconds=-5))
    refused = browser.post(f"/orders/{late.pk}/pay", {"key": "late"})
    assert refused.status_code == 409 and "The time to pay for this order has run out" in page(
        refused)


API_CODES = list(ErrorCode)  # a new code without a sentence fails here


@pytest.mark.parametrize("code", API_CODES)
def test_every_error_code_of_the_api_reads_as_a_sentence(code):
    details = {"starts_at": "2030-01-01T10:00:00+08:00", "limit": 2, "retry_after": 7}
    sentence = sentence_for(DomainError(code, "raw service message", details=details))
    assert code in SENTENCES and sentence != "raw service message"
    assert sentence.endswith(".") and "{" not in sentence and "_" not in sentence
    if code == "rate_limited":
        assert "7 seconds" in sentence
    if code == "not_started":
        assert "1 Jan 2030 10:00" in sentence  # in a shopper's words (core.sentences.when)


def test_an_unknown_outcome_is_never_told_as_nothing_sold():
    plain = sentence_for(DomainError("unavailable", ""))
    unknown = sentence_for(DomainError("unavailable", "", details={"outcome": "unknown"}))
    assert "nothing was sold" in plain
    assert "nothing was sold" not in unknown and "may have gone through" in unknown


def test_the_login_and_register_forms_are_rate_limited_per_ip(db, settings):
    settings.RATE_TOKEN, settings.RATE_REGISTER = "2/m", "1/m"
    client = Client()
    for _ in range(2):
        assert client.post("/login/", {"username": "x", "password": "y"}).status_code == 200
    limited = client.post("/login/", {"username": "x", "password": "y"})
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    client.post("/register/", {"username": ""})
    assert client.post("/register/", {"username": ""}).status_code == 429
