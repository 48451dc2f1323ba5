"""Fixtures every app's tests use: real Redis (flushed per test), customers, API clients,
and the shop's own: orders in any state, a gateway that counts.

Registered for the whole suite by the root conftest's `pytest_plugins`; helpers such as
`client_for` are imported from here by name.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from core import embedded_redis
from shop import payments, services, sms
from shop.models import Order, OrderLine, OrderStatus, Product, Sku

_sequence = itertools.count(1)
# Genuine customers' numbers are scattered, not a carrier's run of consecutive SIMs (what a
# ring buys, antiscalper.phone_blocks): n -> n * SCATTER mod 10^8 is one-to-one (SCATTER is
# prime to 10), and no two of 20,000 consecutive customers share a block of 100 numbers.
SCATTER = 7_368_787


def scattered_phone(n: int) -> str:
    return f"138{n * SCATTER % 10**8:08d}"


@pytest.fixture(autouse=True)
def storefront_in_english(settings):
    """The suite reads the storefront's pages in English, the language a shopper may choose
    (core.language); the tests of the languages themselves (shop/tests/test_languages.py)
    set the shipped default, Simplified Chinese, back."""
    settings.STOREFRONT_LANGUAGE = "en"


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
def sms_outbox():
    """The texts sent in this test (test settings use shop.sms.MemoryBackend), empty first."""
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def make_customer(db):
    def make(*, fan_level: int = 0, username: str | None = None, phone: str | None = None,
             with_address: bool = True):
        n = next(_sequence)
        customer = services.customer_register(
            username=username or f"shopper{n}", password="correct-horse-battery",
            phone=phone or scattered_phone(n), fan_level=fan_level,
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




_numbers = itertools.count(1)


@pytest.fixture
def make_order(db, sku):
    """An order of one `sku` in any state, written directly (as sales and ops would leave it)."""

    def make(*, user, status: str = OrderStatus.AWAITING_PAYMENT, quantity: int = 1,
             deposit: Decimal = Decimal("0"), due_in: timedelta | None = timedelta(minutes=30),
             balance_opens_in: timedelta | None = None,
             balance_due_in: timedelta | None = None, **fields) -> Order:
        now = timezone.now()
        total = sku.price * quantity
        fields.setdefault("number", f"T{next(_numbers):010d}")
        order = Order.objects.create(
            user=user, status=status, total=total,
            deposit=deposit, balance_due=total - deposit if deposit else Decimal("0"),
            payment_due_at=now + due_in if due_in is not None else None,
            balance_opens_at=now + balance_opens_in if balance_opens_in is not None else None,
            balance_due_at=now + balance_due_in if balance_due_in is not None else None,
            created_at=now, **fields,
        )
        OrderLine.objects.create(order=order, sku=sku, quantity=quantity, unit_price=sku.price)
        return order

    return make


@pytest.fixture
def order(make_order, customer) -> Order:
    """A regular order of `customer`, awaiting payment for the next 30 minutes."""
    return make_order(user=customer.user)


@pytest.fixture
def deposit_order(make_order, customer) -> Order:
    """A pre-sale order: 100.00 deposit now, the balance payable from tomorrow for a day."""
    return make_order(user=customer.user, status=OrderStatus.AWAITING_DEPOSIT,
                      deposit=Decimal("100.00"), balance_opens_in=timedelta(days=1),
                      balance_due_in=timedelta(days=2))


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(
        username="ops", email="ops@example.com", password="ops-password-123"
    )


class CountingGateway(payments.SimulatedGateway):
    """The real simulated gateway, keeping a ledger of the charges and refunds it made."""

    charges: list[str]
    refunds: list[str]

    def charge(self, *, key, amount, instrument):
        result = super().charge(key=key, amount=amount, instrument=instrument)
        if result.ok:
            type(self).charges.append(result.reference)
        return result

    def refund(self, *, reference, amount):
        result = super().refund(reference=reference, amount=amount)
        type(self).refunds.append(reference)
        return result


@pytest.fixture
def ledger(monkeypatch):
    """Route order payments through a gateway whose charges and refunds can be counted."""
    gateway = type("Ledger", (CountingGateway,), {"charges": [], "refunds": []})
    monkeypatch.setattr(payments, "gateway", gateway)
    return gateway
