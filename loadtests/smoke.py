"""An end-to-end check of a running stack: a live sale, a purchase over HTTP, and the Celery
pipeline (beat + worker) turning the ticket into an order that is then paid."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from sales import services
from shop.models import Sku
from shop.seeding import DEMO_PASSWORD, username_for


def _call(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def purchase_round_trip(base: str, *, timeout: float = 60) -> dict:
    """Buy one unit as a seeded shopper and wait until the pipeline confirms it; then pay."""
    now = timezone.now()
    sale = services.sale_create(
        sku=Sku.objects.get(code="MI6-64-BLK"), title="smoke test", price=Decimal("1999.00"),
        stock=5, starts_at=now - timedelta(seconds=1), ends_at=now + timedelta(minutes=10),
    )
    deadline = time.monotonic() + timeout
    status, tokens = _call("POST", f"{base}/auth/token",
                           {"username": username_for(1), "password": DEMO_PASSWORD})
    assert status == 200, (status, tokens)
    token = tokens["access"]
    while True:  # beat loads the gate within seconds
        status, answer = _call("POST", f"{base}/sales/{sale.pk}/purchase", {}, token)
        if status == 202:
            break
        assert answer["error"]["code"] == "unavailable" and time.monotonic() < deadline, answer
        time.sleep(0.5)
    ticket = answer["ticket"]
    while True:
        status, answer = _call("GET", f"{base}/tickets/{ticket}", token=token)
        if answer.get("status") == "confirmed":
            break
        assert status == 200 and time.monotonic() < deadline, answer
        time.sleep(0.3)
    status, paid = _call("POST", f"{base}/orders/{answer['order']}/pay", {}, token)
    assert status == 200 and paid["order"]["status"] == "paid", paid
    return {"sale": sale.pk, "ticket": ticket, "order": answer["order"]}
