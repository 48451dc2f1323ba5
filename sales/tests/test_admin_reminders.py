"""Ops see how many shoppers asked to be reminded of a sale and how many were texted, on the
sale's dashboard; the list of who is behind the view right on reminders, read-only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client

from sales import services

pytestmark = pytest.mark.django_db


def _as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _figure(html: str, name: str) -> str:
    return re.search(rf'data-figure="{name}">([^<]*)<', html).group(1)


@pytest.fixture
def reminded(make_sale, make_customer, sms_outbox):
    """A sale opening in an hour, three reminders set, two of them already texted."""
    sale = make_sale(starts_in=3600, load=False)
    shoppers = [make_customer() for _ in range(3)]
    for shopper in shoppers[:2]:
        services.reminder_set(sale_id=sale.pk, user_id=shopper.user_id)
    assert services.reminders_send_due(now=sale.starts_at - timedelta(minutes=1)) == 2
    services.reminder_set(sale_id=sale.pk, user_id=shoppers[2].user_id)
    services.reminder_set(sale_id=make_sale(starts_in=7200, load=False).pk,
                          user_id=shoppers[0].user_id)  # another sale's: not counted
    return sale, shoppers


def test_the_dashboard_counts_reminders_set_and_texted(reminded, make_staff):
    sale, _shoppers = reminded
    html = _as(make_staff("sales.view_flashsale")).get(
        f"/admin/sales/flashsale/{sale.pk}/dashboard/").content.decode()
    assert _figure(html, "reminders") == "3" and "2 texted" in html
    assert "/admin/sales/reminder/" not in html  # no link to a list this account cannot see


def test_staff_without_the_view_right_cannot_see_who_asked(reminded, make_staff):
    sale, shoppers = reminded
    staff = _as(make_staff("sales.view_flashsale"))
    assert staff.get("/admin/sales/reminder/").status_code == 403
    allowed = _as(make_staff("sales.view_flashsale", "sales.view_reminder"))
    html = allowed.get(f"/admin/sales/flashsale/{sale.pk}/dashboard/").content.decode()
    assert f"/admin/sales/reminder/?sale__id__exact={sale.pk}" in html
    listing = allowed.get(f"/admin/sales/reminder/?sale__id__exact={sale.pk}").content.decode()
    assert all(shopper.user.username in listing for shopper in shoppers)
    assert "Add reminder" not in listing


def test_the_reminders_list_is_read_only_even_for_a_superuser(reminded, superuser):
    sale, _shoppers = reminded
    admin = _as(superuser)
    reminder = sale.reminders.first()
    form = admin.get(f"/admin/sales/reminder/{reminder.pk}/change/").content.decode()
    assert 'name="_save"' not in form
    assert admin.get(f"/admin/sales/reminder/{reminder.pk}/delete/").status_code == 403
    assert admin.post(f"/admin/sales/reminder/{reminder.pk}/delete/",
                      {"post": "yes"}).status_code == 403
    assert sale.reminders.count() == 3
