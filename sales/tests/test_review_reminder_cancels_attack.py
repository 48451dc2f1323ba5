"""Review of cancelled reminders (a cancel keeps the row, `cancelled_at`): what ops are shown
must agree with itself, the dashboard's "reminders set" and the list it links to."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from sales import services

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
