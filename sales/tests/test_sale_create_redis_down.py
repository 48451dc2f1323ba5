"""Scheduling a sale while Redis is down (the gate is Redis): nothing is left half done.

- The create is one transaction with the wipe of any keys an earlier sale of that id left:
  with Redis down it is refused (503 `unavailable` in the API) and no sale row remains, so
  the client's retry schedules the sale once, not twice.
- A sale opening within the preload lead has its gate loaded after the commit; when that
  load fails, the sale stays scheduled, the failure is logged and the preloader retries.
  The hook was a functools.partial, which has no __qualname__: Django's logging of the
  robust hook's failure raised AttributeError out of the commit instead."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from sales import services
from sales.models import FlashSale
from shop.tests.fixtures import client_for


@pytest.fixture
def superuser_api(superuser):
    return client_for(superuser)


def _terms(sku, *, starts_in: float) -> dict:
    now = timezone.now()
    return {"sku": sku, "title": "Opens in a moment", "price": Decimal("1999.00"), "stock": 5,
            "starts_at": now + timedelta(seconds=starts_in),
            "ends_at": now + timedelta(seconds=starts_in + 3600)}


@pytest.mark.django_db(transaction=True)
def test_a_sale_scheduled_while_redis_is_down_is_refused_and_not_left_behind(gate_redis, sku):
    gate_redis.server.stop()
    with pytest.raises(RedisError):
        services.sale_create(**_terms(sku, starts_in=3600))
    assert not FlashSale.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_503_and_a_retry_after_redis_is_back_schedules_one_sale(
        gate_redis, sku, superuser_api):
    body = {"sku": sku.pk, "title": "Mi 6 launch", "price": "1999.00", "stock": 5,
            "starts_at": (timezone.now() + timedelta(hours=1)).isoformat(),
            "ends_at": (timezone.now() + timedelta(hours=2)).isoformat()}
    gate_redis.server.stop()
    refused = superuser_api.post("/api/v1/ops/sales", body, format="json")
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "unavailable"
    gate_redis.server.start()
    assert superuser_api.post("/api/v1/ops/sales", body, format="json").status_code == 201
    assert FlashSale.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_gate_load_after_the_commit_is_logged_and_the_sale_stays(gate_redis, sku,
                                                                          caplog):
    sale = FlashSale.objects.create(**_terms(sku, starts_in=2))
    gate_redis.server.stop()
    with caplog.at_level(logging.ERROR, logger="django.db.backends.base"):
        with transaction.atomic():
            services._gate_load_if_due(sale)
    assert FlashSale.objects.get(pk=sale.pk).gate_loaded_at is None
    assert any("load_now" in record.getMessage() for record in caplog.records), \
        [record.getMessage() for record in caplog.records]
