"""Which sales the background work looks after (`selectors.sales_recently_loaded`): the
pipeline, the signals, linking and reconciliation all go by it, so a sale missing from it is
a sale whose tickets nobody writes, and a sale wrongly in it is work for nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sales import selectors
from sales.models import FlashSale

pytestmark = pytest.mark.django_db


def test_loaded_sales_are_looked_after_until_an_hour_after_they_end(make_sale):
    now = timezone.now()
    live, upcoming = make_sale(), make_sale(starts_in=600)
    just_ended, long_ended = make_sale(), make_sale()
    for sale, ended_ago in ((just_ended, 59), (long_ended, 61)):
        FlashSale.objects.filter(pk=sale.pk).update(
            starts_at=now - timedelta(hours=3), ends_at=now - timedelta(minutes=ended_ago))
    never_loaded = make_sale(load=False)
    assert sorted(selectors.sales_recently_loaded(now=now)) == sorted(
        [live.pk, upcoming.pk, just_ended.pk])
    assert never_loaded.pk not in selectors.sales_recently_loaded(now=now)
