"""`PUT/GET/DELETE /api/v1/sales/{id}/reminder` (docs/api.md): idempotent by nature, only the
caller's own, 409 `already_open` once the sale opened, the error envelope for anything else
and never a 500, whatever is sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils.dateparse import parse_datetime

from sales.models import Reminder
from shop.tests.fixtures import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def upcoming(make_sale):
    return make_sale(starts_in=3600, load=False)


def _url(sale_id) -> str:
    return f"/api/v1/sales/{sale_id}/reminder"


def test_put_twice_makes_one_reminder_and_get_shows_it(api, upcoming):
    assert api.get(_url(upcoming.pk)).json()["reminded"] is False
    first, second = api.put(_url(upcoming.pk)), api.put(_url(upcoming.pk))
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json() == api.get(_url(upcoming.pk)).json()
    body = first.json()
    assert body["sale"] == upcoming.pk and body["reminded"] is True and body["sent_at"] is None
    lead = timedelta(seconds=settings.REMINDER_LEAD_SECONDS)
    assert parse_datetime(body["remind_at"]) == upcoming.starts_at - lead
    assert Reminder.objects.filter(sale=upcoming).count() == 1


def test_delete_cancels_and_is_harmless_twice(api, upcoming):
    api.put(_url(upcoming.pk))
    assert api.delete(_url(upcoming.pk)).status_code == 204
    assert api.delete(_url(upcoming.pk)).status_code == 204
    assert api.get(_url(upcoming.pk)).json()["reminded"] is False
    assert not Reminder.objects.filter(cancelled_at__isnull=True).exists()  # kept, cancelled


def test_another_shopper_neither_sees_nor_cancels_my_reminder(api, upcoming, make_customer):
    api.put(_url(upcoming.pk))
    other = client_for(make_customer().user)
    assert other.get(_url(upcoming.pk)).json()["reminded"] is False
    assert other.delete(_url(upcoming.pk)).status_code == 204
    assert api.get(_url(upcoming.pk)).json()["reminded"] is True
    assert Reminder.objects.count() == 1


@pytest.mark.parametrize("starts_in", [-1, -7200])
def test_a_sale_that_has_opened_answers_already_open(api, make_sale, starts_in):
    sale = make_sale(starts_in=starts_in, lasts=3600)
    response = api.put(_url(sale.pk))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "already_open"
    assert set(error["details"]) == {"starts_at", "ends_at"}
    assert not Reminder.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_an_unknown_sale_is_not_found(api, method):
    response = getattr(api, method)(_url(987654))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_without_a_token_it_is_unauthenticated(anon, upcoming, method):
    response = getattr(anon, method)(_url(upcoming.pk))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert not Reminder.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/sales/99999999999999999999999/reminder",
                                  "/api/v1/sales/-1/reminder", "/api/v1/sales/abc/reminder",
                                  "/api/v1/sales/0/reminder", "/api/v1/sales/%00/reminder"])
def test_hostile_ids_are_not_found_never_a_server_error(api, path):
    for method in ("get", "put", "delete"):
        response = getattr(api, method)(path)
        assert response.status_code == 404, (method, path, response.content)
        assert set(response.json()) == {"error"}


@pytest.mark.parametrize("body", ['{"user": 1, "sale": 2}', "not json", "[]", "\x00" * 10])
def test_whatever_body_is_sent_only_the_callers_reminder_is_set(api, upcoming, customer,
                                                                  make_customer, body):
    other = make_customer()
    response = api.put(_url(upcoming.pk), body, content_type="application/json")
    assert response.status_code in (200, 201, 400), response.content
    assert response.status_code < 500 and set(Reminder.objects.values_list(
        "user_id", flat=True)) <= {customer.user_id}
    assert not Reminder.objects.filter(user_id=other.user_id).exists()


def test_a_method_the_path_does_not_serve_is_refused_in_the_envelope(api, upcoming):
    response = api.post(_url(upcoming.pk), {}, format="json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_an_account_without_a_customer_profile_is_not_found(superuser, upcoming):
    response = client_for(superuser).put(_url(upcoming.pk))
    assert response.status_code == 404 and not Reminder.objects.exists()


def test_the_language_cookie_decides_the_texts_language(api, upcoming, customer):
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    api.put(_url(upcoming.pk))
    assert Reminder.objects.get().language == "en"
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = "<script>"
    api.put(_url(upcoming.pk))
    assert Reminder.objects.get().language == "en"  # nothing we speak: the last choice stays


@pytest.mark.parametrize(("cookie", "stored"), [("en-US", "en"), ("EN_gb", "en"),
                                                ("zh-CN", "zh-hans"), ("zh-Hant", "en")])
def test_a_language_tag_of_ours_is_stored_as_our_language(api, upcoming, cookie, stored):
    """en-US is English, zh-CN Chinese; a tag we do not speak (traditional Chinese) leaves
    the last choice (English, from the first press)."""
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    api.put(_url(upcoming.pk))
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = cookie
    api.put(_url(upcoming.pk))
    assert Reminder.objects.get().language == stored
