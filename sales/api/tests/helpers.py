"""Helpers for the tests of the sales API."""

from __future__ import annotations


def buy(client, sale, **body):
    """POST the purchase with `body`; `key` is sent as the Idempotency-Key."""
    headers = {}
    if key := body.pop("key", None):
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(f"/api/v1/sales/{sale.pk}/purchase", body, format="json", **headers)
