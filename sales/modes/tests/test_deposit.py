"""Deposit pre-sales (定金预售): a deposit now, the balance in its window, or the deposit is kept.

A deposit order owes `sale.deposit * qty` within the deposit window, then the price less the
deposit and its expansion (a deposit of 100 that counts as 150) inside the balance window.
An unpaid deposit expires and an unpaid balance forfeits the deposit; either way the unit
goes back to the gate exactly once.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import DomainError
from sales import services
from sales.gate import admission, holdings
from sales.gate.admission import Purchase
from sales.models import FlashSale, StockReturn
from sales.pipeline import orders as pipeline
from shop import payments
from shop.models import Order, OrderStatus, Payment
from shop.tests.fixtures import client_for

# Units go back to the gate after commit: these tests need real commits.
pytestmark = pytest.mark.django_db(transaction=True)

PRICE = Decimal("1999.00")          # make_sale's price
DEPOSIT = Decimal("100.00")
EXPANSION = Decimal("50.00")        # the deposit of 100 counts as 150
BALANCE = PRICE - DEPOSIT - EXPANSION  # 1849.00
DEPOSIT_WINDOW = timedelta(minutes=10)  # shorter than the 30-minute payment window


@pytest.fixture
def charges(monkeypatch) -> list[Decimal]:
    """The amounts the (simulated) gateway really charged, in order."""
    made: list[Decimal] = []

    class RecordingGateway(payments.SimulatedGateway):
        def charge(self, *, key, amount, instrument):
            result = super().charge(key=key, amount=amount, instrument=instrument)
            if result.ok:
                made.append(amount)
            return result

    monkeypatch.setattr(payments, "gateway", RecordingGateway)
    return made


@pytest.fixture
def deposit_sale(make_sale):
    """A live deposit pre-sale whose balance window opens after the sale has ended."""
    def make(**overrides) -> FlashSale:
        now = timezone.now()
        fields = {
            "stock": 5, "mode": "deposit", "deposit": DEPOSIT, "deposit_expansion": EXPANSION,
            "deposit_window": DEPOSIT_WINDOW,
            "balance_opens_at": now + timedelta(hours=2),
            "balance_closes_at": now + timedelta(hours=3),
        }
        return make_sale(**{**fields, **overrides})
    return make


def _order(sale, user_id: int, quantity: int = 1) -> Order:
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=user_id, quantity=quantity))
    pipeline.drain(sale_id=sale.pk)
    return Order.objects.get(sale_id=sale.pk, user_id=user_id)


def _client(user_id: int):
    return client_for(get_user_model().objects.get(pk=user_id))


def _pay(order, **kwargs) -> Order:
    return payments.order_pay(order_id=order.pk, user_id=order.user_id, **kwargs)


@pytest.mark.parametrize("quantity", [1, 2])
def test_a_deposit_order_waits_for_its_deposit_and_owes_the_price_less_the_expanded_deposit(
        deposit_sale, buyer_ids, quantity):
    sale = deposit_sale(limit=2)
    [user] = buyer_ids(1)

    order = _order(sale, user, quantity)

    assert order.status == OrderStatus.AWAITING_DEPOSIT
    assert order.deposit == DEPOSIT * quantity
    assert order.balance_due == (PRICE - DEPOSIT - EXPANSION) * quantity
    assert order.payment_due_at == order.created_at + DEPOSIT_WINDOW
    assert (order.balance_opens_at, order.balance_due_at) == (sale.balance_opens_at,
                                                              sale.balance_closes_at)


def test_the_order_api_shows_the_deposit_the_balance_and_their_deadlines(deposit_sale,
                                                                         buyer_ids):
    sale = deposit_sale()
    [user] = buyer_ids(1)
    order = _order(sale, user)

    body = _client(user).get(f"/api/v1/orders/{order.pk}").json()

    assert (body["status"], body["deposit"], body["balance_due"], body["sale"]) == (
        "awaiting_deposit", "100.00", "1849.00", sale.pk)
    assert parse_datetime(body["payment_due_at"]) == order.created_at + DEPOSIT_WINDOW
    assert parse_datetime(body["balance_opens_at"]) == sale.balance_opens_at
    assert parse_datetime(body["balance_due_at"]) == sale.balance_closes_at


def test_the_sale_api_shows_the_deposit_its_expansion_the_balance_and_its_window(anon,
                                                                                 deposit_sale):
    sale = deposit_sale()

    body = anon.get(f"/api/v1/sales/{sale.pk}").json()

    assert (body["mode"], body["deposit"], body["deposit_expansion"], body["balance_due"]) == (
        "deposit", "100.00", "50.00", "1849.00")
    assert body["deposit_window_seconds"] == DEPOSIT_WINDOW.total_seconds()
    assert parse_datetime(body["balance_opens_at"]) == sale.balance_opens_at
    assert parse_datetime(body["balance_closes_at"]) == sale.balance_closes_at


def test_paying_the_deposit_charges_exactly_the_deposit_and_waits_for_the_balance(
        deposit_sale, buyer_ids, charges):
    sale = deposit_sale()
    [user] = buyer_ids(1)
    order = _order(sale, user)

    response = _client(user).post(f"/api/v1/orders/{order.pk}/pay", {}, format="json")

    assert response.status_code == 200
    answer = response.json()["order"]
    assert (answer["status"], answer["balance_due"]) == ("awaiting_balance", "1849.00")
    assert parse_datetime(answer["payment_due_at"]) == sale.balance_closes_at
    assert charges == [DEPOSIT]
    assert list(Payment.objects.filter(order=order).values_list("purpose", "amount", "status")) \
        == [("deposit", DEPOSIT, "succeeded")]


def test_the_balance_cannot_be_paid_before_its_window_opens(deposit_sale, buyer_ids, charges):
    sale = deposit_sale()
    [user] = buyer_ids(1)
    order = _order(sale, user)
    client = _client(user)
    assert client.post(f"/api/v1/orders/{order.pk}/pay", {}, format="json").status_code == 200

    response = client.post(f"/api/v1/orders/{order.pk}/pay", {}, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "not_payable")
    assert parse_datetime(response.json()["error"]["details"]["balance_opens_at"]) == \
        sale.balance_opens_at
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_BALANCE
    assert charges == [DEPOSIT]


def test_the_balance_paid_inside_its_window_charges_exactly_the_balance_due(
        deposit_sale, buyer_ids, charges):
    sale = deposit_sale()
    [user] = buyer_ids(1)
    order = _pay(_order(sale, user))

    paid = _pay(order, now=sale.balance_opens_at + timedelta(minutes=1))

    assert paid.status == OrderStatus.PAID
    assert charges == [DEPOSIT, BALANCE]
    assert sorted(Payment.objects.filter(order=order).values_list("purpose", "amount",
                                                                   "status")) == [
        ("balance", BALANCE, "succeeded"), ("deposit", DEPOSIT, "succeeded")]
    assert holdings.stock_left(sale_id=sale.pk) == sale.stock - 1
    assert not StockReturn.objects.filter(order=order).exists()


def test_a_deposit_not_paid_in_its_window_expires_and_the_unit_returns_once(deposit_sale,
                                                                             buyer_ids):
    sale = deposit_sale(stock=1)
    first, second = buyer_ids(2)
    order = _order(sale, first)
    assert holdings.stock_left(sale_id=sale.pk) == 0

    assert services.orders_expire_due(now=order.payment_due_at - timedelta(seconds=1)) == 0
    later = order.payment_due_at + timedelta(seconds=1)
    assert services.orders_expire_due(now=later) == 1
    assert services.orders_expire_due(now=later) == 0

    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert holdings.stock_left(sale_id=sale.pk) == 1
    assert StockReturn.objects.get(order=order).reason == "expired"
    admission.sold_out_memo_clear()
    assert _order(sale, second).status == OrderStatus.AWAITING_DEPOSIT


def test_a_balance_not_paid_by_the_close_forfeits_the_kept_deposit_and_returns_the_unit_once(
        deposit_sale, buyer_ids, charges):
    sale = deposit_sale(stock=2)
    [user] = buyer_ids(1)
    order = _pay(_order(sale, user))
    assert order.status == OrderStatus.AWAITING_BALANCE

    services.orders_expire_due(now=sale.balance_closes_at - timedelta(seconds=1))
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_BALANCE
    after_close = sale.balance_closes_at + timedelta(seconds=1)
    services.orders_expire_due(now=after_close)
    services.orders_expire_due(now=after_close)

    order.refresh_from_db()
    assert order.status == OrderStatus.FORFEITED
    deposit = Payment.objects.get(order=order)
    assert (deposit.purpose, deposit.amount, deposit.status) == ("deposit", DEPOSIT,
                                                                 "succeeded")
    assert charges == [DEPOSIT]
    assert StockReturn.objects.get(order=order).reason == "forfeited"
    assert holdings.stock_left(sale_id=sale.pk) == 2
    with pytest.raises(DomainError) as refused:
        _pay(order, now=after_close)
    assert refused.value.code == "payment_expired"


def test_a_deposit_paid_exactly_at_its_deadline_is_on_time(deposit_sale, buyer_ids, charges):
    sale = deposit_sale(stock=1)
    [user] = buyer_ids(1)
    order = _order(sale, user)
    deadline = order.payment_due_at

    services.orders_expire_due(now=deadline)
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_DEPOSIT

    paid = _pay(order, now=deadline)
    assert paid.status == OrderStatus.AWAITING_BALANCE
    services.orders_expire_due(now=deadline)

    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_BALANCE
    assert charges == [DEPOSIT]
    assert not StockReturn.objects.filter(order=order).exists()
    assert holdings.stock_left(sale_id=sale.pk) == 0


@pytest.mark.parametrize("fields, field", [
    ({"deposit": None}, "deposit"),
    ({"balance_opens_at": None, "balance_closes_at": None}, "balance_opens_at"),
    ({"balance_closes_at": None}, "balance_opens_at"),
    ({"deposit": PRICE - EXPANSION}, "deposit"),            # 1949 + 50 is the price
    ({"deposit": Decimal("1960.00")}, "deposit"),           # 1960 + 50 is above it
    ({"deposit": PRICE, "deposit_expansion": Decimal("0")}, "deposit"),
], ids=["no-deposit", "no-balance-window", "half-a-balance-window",
        "deposit-and-expansion-equal-the-price", "deposit-and-expansion-exceed-the-price",
        "deposit-is-the-price"])
def test_a_deposit_sale_without_a_deposit_a_balance_window_or_room_for_a_balance_is_refused(
        sku, fields, field):
    now = timezone.now()
    valid = {
        "sku": sku, "title": "Mi 9 pre-sale", "price": PRICE, "stock": 10,
        "starts_at": now, "ends_at": now + timedelta(hours=1), "mode": "deposit",
        "deposit": DEPOSIT, "deposit_expansion": EXPANSION,
        "balance_opens_at": now + timedelta(hours=2),
        "balance_closes_at": now + timedelta(hours=3),
    }
    with pytest.raises(DomainError) as refused:
        services.sale_create(**{**valid, **fields})
    assert refused.value.code == "invalid"
    assert field in refused.value.details
    assert not FlashSale.objects.exists()
    assert services.sale_create(**valid).mode == "deposit"  # the same sale, valid, is accepted


def test_a_deposit_that_leaves_one_cent_of_balance_is_accepted(sku):
    now = timezone.now()
    sale = services.sale_create(
        sku=sku, title="Mi 9 pre-sale", price=PRICE, stock=10, starts_at=now,
        ends_at=now + timedelta(hours=1), mode="deposit", deposit=Decimal("1948.99"),
        deposit_expansion=EXPANSION, balance_opens_at=now + timedelta(hours=2),
        balance_closes_at=now + timedelta(hours=3))
    assert sale.price - sale.deposit - sale.deposit_expansion == Decimal("0.01")
