"""Helpers for the tests of the anti-scalper module in the purchase path: a browser's
headers, an old account, a purchase through the API."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from antiscalper.tests.risk_helpers import CHROME
from shop.models import Customer
from shop.tests.fixtures import client_for

BROWSER = {"HTTP_USER_AGENT": CHROME, "HTTP_ACCEPT": "application/json",
           "HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9",
           "HTTP_SEC_CH_UA": '"Chromium";v="120", "Google Chrome";v="120"',
           "HTTP_SEC_FETCH_SITE": "same-origin"}


def old(customer):
    """Make the account old (fixtures register customers now)."""
    Customer.objects.filter(pk=customer.pk).update(
        joined_at=timezone.now() - timedelta(days=800))
    return customer


def buy(customer, sale, **headers):
    """The customer's purchase through the API, with `headers` as the client sends them."""
    return client_for(customer.user).post(f"/api/v1/sales/{sale.pk}/purchase", {},
                                          format="json", **headers)
