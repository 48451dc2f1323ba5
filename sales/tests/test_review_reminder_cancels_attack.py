"""Review of cancelled reminders (a cancel keeps the row, `cancelled_at`): what ops are shown
must agree with itself, the dashboard's "reminders set" and the list it links to; a cancelled
reminder shows as set nowhere (the storefront's cards and page, the API) and is texted at no
time, even when its sale moves; set again, it is texted once at the new time."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client

from sales import services
from shop.tests.helpers import bearer_client

pytestmark = pytest.mark.django_db


def test_the_dashboards_reminder_list_holds_the_reminders_it_counts(make_sale, make_customer,
                                                                     make_staff):
    sale = make_sale(starts_in=3600, load=False)
    kept, cancelled = make_customer(username="keeps-it"), make_customer(username="changed-mind")
    for shopper in (kept, cancelled):
        services.reminder_set(sale_id=sale.pk, user_id=shopper.user_id)
    services.reminder_cancel(sale_id=sale.pk, user_id=cancelled.user_id)
    ops = Client()
    ops.force_login(make_staff("sales.view_flashsale", "sales.view_reminder"))
    board = ops.get(f"/admin/sales/flashsale/{sale.pk}/dashboard/").content.decode()
    assert re.search(r'data-figure="reminders">1<', board)
    link = re.search(r'href="(/admin/sales/reminder/\?[^"]*)"', board).group(1)
    listing = ops.get(link.replace("&amp;", "&")).content.decode()
    assert "keeps-it" in listing
    assert "changed-mind" not in listing  # counted out on the dashboard, so out of its list


def test_a_cancelled_reminder_shows_nowhere_as_set(make_sale, make_customer):
    sale = make_sale(starts_in=3600, load=False)
    shopper = make_customer()
    services.reminder_set(sale_id=sale.pk, user_id=shopper.user_id)
    services.reminder_cancel(sale_id=sale.pk, user_id=shopper.user_id)
    browser = Client()
    browser.force_login(shopper.user)
    for url in ("/", f"/sales/{sale.pk}/"):
        html = browser.get(url).content.decode()
        assert f'action="/sales/{sale.pk}/remind"' in html, url
        assert "data-reminded" not in html, url  # "Remind me", not "Reminder set"
    api = bearer_client(shopper.user)
    assert api.get(f"/api/v1/sales/{sale.pk}/reminder").json()["reminded"] is False


def test_a_cancelled_reminder_of_a_moved_sale_is_texted_at_neither_time(
        make_sale, make_customer, sms_outbox):
    sale = make_sale(starts_in=3600, load=False)
    shopper = make_customer()
    services.reminder_set(sale_id=sale.pk, user_id=shopper.user_id)
    assert services.reminders_send_due(now=sale.starts_at - timedelta(minutes=1)) == 1
    services.reminder_cancel(sale_id=sale.pk, user_id=shopper.user_id)
    later = sale.starts_at + timedelta(hours=2)
    services.sale_update(sale_id=sale.pk, starts_at=later, ends_at=later + timedelta(hours=1))
    assert services.reminders_send_due(now=later - timedelta(minutes=1)) == 0
    services.reminder_set(sale_id=sale.pk, user_id=shopper.user_id,
                          now=later - timedelta(minutes=1))
    assert services.reminders_send_due(now=later - timedelta(seconds=50)) == 1  # the new time
    assert services.reminders_send_due(now=later - timedelta(seconds=20)) == 0
    assert len(sms_outbox) == 2
