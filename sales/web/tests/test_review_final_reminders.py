"""Review: what pressing "remind me" promises must agree with what the sender will do. A text
sent for an opening the sale has since left (moved to another time) is sent again at the new
time, so the page may not tell the shopper they were texted already and leave it there."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from sales import services
from sales.models import Reminder
from shop.tests.helpers import csrf_post, page

pytestmark = pytest.mark.django_db


def _said(browser: Client, sale) -> str:
    browser.get("/")
    pressed = csrf_post(browser, f"/sales/{sale.pk}/remind", {"remind": "on", "next": "/"},
                        follow=True)
    body = " ".join(page(pressed).split())
    return body[body.index('<ul class="notes">'):body.index("<h1>")]


@pytest.mark.parametrize("cancel_first", [False, True])
def test_a_text_for_the_old_opening_of_a_moved_sale_is_not_the_last_word(
        make_sale, customer, settings, sms_outbox, cancel_first):
    settings.REMINDER_LEAD_SECONDS = 300
    browser = Client()
    browser.force_login(customer.user)
    sale = make_sale(starts_in=120, load=False)
    assert "in a moment" in _said(browser, sale)
    assert services.reminders_send_due() == 1  # texted for the opening in two minutes
    later = timezone.now() + timedelta(hours=2)
    services.sale_update(sale_id=sale.pk, starts_at=later, ends_at=later + timedelta(hours=1))
    if cancel_first:  # cancelled, then set again after the move
        csrf_post(browser, f"/sales/{sale.pk}/remind", {"remind": "off", "next": "/"})
    said = _said(browser, sale)
    # the sender texts again for the new opening...
    assert services.reminders_send_due(now=later - timedelta(minutes=1)) == 1
    assert len(sms_outbox) == 2
    assert Reminder.objects.get().sent_for == later
    # ...so the page promised that text, and did not say the one sent was all there is
    assert "We already texted you" not in said, said
    assert "we will text you 5 minutes before the sale opens" in said, said
