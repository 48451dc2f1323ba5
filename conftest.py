"""Fixtures shared by every app's tests: real Redis (flushed per test), customers, clients."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from config import embedded_redis
from shop import services
from shop.models import Product, Sku

_sequence = itertools.count(1)


@pytest.fixture(autouse=True)
def redis_client():
    """The real Redis of this run (embedded or REDIS_URL), empty at the start of each test.
    The first test's flush starts the embedded server, so this process owns it: it outlives
    every process a test starts."""
    client = redis.Redis.from_url(settings.REDIS_URL,
                                  **embedded_redis.pool_options(settings.REDIS_URL))
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def make_customer(db):
    def make(*, fan_level: int = 0, username: str | None = None, phone: str | None = None,
             with_address: bool = True):
        n = next(_sequence)
        customer = services.customer_register(
            username=username or f"shopper{n}", password="correct-horse-battery",
            phone=phone or f"1380000{n:04d}", fan_level=fan_level,
        )
        if with_address:
            services.address_create(customer=customer, recipient=f"Shopper {n}",
                                    phone=customer.phone, line1=f"{n} Nanjing Road",
                                    city="Shanghai", postcode="200001")
        return customer
    return make


@pytest.fixture
def customer(make_customer):
    return make_customer()


@pytest.fixture
def sku(db) -> Sku:
    product = Product.objects.create(name=f"Mi 6 {next(_sequence)}", category="phone")
    return Sku.objects.create(product=product, code=f"MI6-{next(_sequence)}",
                              name="Mi 6 64GB", price=Decimal("2499.00"))


def client_for(user) -> APIClient:
    client = APIClient()
    token = RefreshToken.for_user(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def api(customer) -> APIClient:
    """An API client authenticated as `customer`."""
    return client_for(customer.user)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()
