"""The replay's data set-up for the personas of `rings.py`: what an account must already be
when the day starts (its age, its registered phone, its address and its earlier orders),
and the deposit pre-sale the reseller buys in.

Why here and not through the API: an aged account is one registered long ago and a history
is orders placed months ago; nobody can do that in a three-minute run. So the accounts the
seeding made (`shop.seeding`, every one alike, none labelled) are back-dated and given
their details in the database before Locust starts; what a shopper does on the day (confirm
a phone by the code texted to it, type a drop address, reserve, buy, pay) stays in the
journeys (`personas.py`). Nothing written here names a persona: the server sees accounts.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from loadtests.double11.plan import Account
from sales import services
from sales.models import FlashSale, SaleMode
from shop.addresses import building_normalize
from shop.models import Address, Customer, Order, OrderLine, OrderStatus, Sku
from shop.services import address_normalize

HISTORY_SKU = "PB2-10000"           # what an established customer bought before: a power bank
DEPOSIT = Decimal("200.00")         # the pre-sale's deposit (Tmall-style, a tenth of the price)
DEPOSIT_STOCK_OF_STOCK = 0.25       # assumption: the pre-sale holds a quarter of the rush's units


def identities_apply(accounts: list[Account], *, now: datetime) -> dict[str, int]:
    """Write each account's set-up: back-dated registration (User.date_joined and the
    profile's joined_at, which the account-age rules read), its registered phone, its own
    address in place of the seeded one, and its earlier paid orders delivered there.
    Returns how many accounts of each kind of change were written."""
    users = get_user_model().objects.in_bulk([a.username for a in accounts],
                                             field_name="username")
    done = {"aged": 0, "phones": 0, "addresses": 0, "history_orders": 0}
    sku = Sku.objects.filter(code=HISTORY_SKU).first() or Sku.objects.order_by("price").first()
    with transaction.atomic():
        for account in accounts:
            user = users[account.username]
            if account.joined_days:
                joined = now - timedelta(days=account.joined_days)
                get_user_model().objects.filter(pk=user.pk).update(date_joined=joined)
                Customer.objects.filter(user_id=user.pk).update(joined_at=joined)
                done["aged"] += 1
            if account.phone:
                Customer.objects.filter(user_id=user.pk).update(phone=account.phone)
                done["phones"] += 1
            if account.address:
                address = _address_replace(user.pk, account.address)
                done["addresses"] += 1
                done["history_orders"] += _history_write(user.pk, address, sku,
                                                         account.history, now)
    return done


def _address_replace(user_id: int, body: dict) -> Address:
    """The account's first address becomes `body` (the journeys ship to the first one)."""
    address = Address.objects.filter(customer__user_id=user_id).order_by("id").first()
    if address is None:
        address = Address(customer=Customer.objects.get(user_id=user_id))
    for name in ("recipient", "phone", "line1", "city", "postcode"):
        setattr(address, name, body[name])
    keys = {"line1": body["line1"], "city": body["city"], "postcode": body["postcode"]}
    address.normalized = address_normalize(**keys)
    address.building = building_normalize(**keys)
    address.save()
    return address


def _history_write(user_id: int, address: Address, sku: Sku, days_before: list[int],
                   now: datetime) -> int:
    """Delivered orders placed `days_before` the sale (no sale, no ticket): the earlier
    purchases that make a customer established (a building's genuine population)."""
    orders = [Order(number=f"H{uuid.uuid4().hex[:20].upper()}", user_id=user_id,
                    address=address, status=OrderStatus.DELIVERED, total=sku.price,
                    created_at=now - timedelta(days=days)) for days in days_before]
    Order.objects.bulk_create(orders)
    OrderLine.objects.bulk_create(OrderLine(order=order, sku=sku, quantity=1,
                                            unit_price=sku.price) for order in orders)
    return len(orders)


def deposit_sale_create(*, main: FlashSale, title: str) -> FlashSale:
    """The deposit pre-sale beside the rush (opening with it): no reservation, a deposit to
    hold a unit within the payment window, the balance in a window after the sale; its gate
    loaded at once, like the main sale's."""
    window = main.payment_window
    stock = max(round(main.stock * DEPOSIT_STOCK_OF_STOCK), 2)
    sku = Sku.objects.filter(code="MI9-128-BLK").first() or main.sku
    sale = services.sale_create(
        sku=sku, title=title, price=main.price, stock=stock, fcode_quota=0,
        per_user_limit=main.per_user_limit, mode=SaleMode.DEPOSIT, deposit=DEPOSIT,
        starts_at=main.starts_at, ends_at=main.ends_at, payment_window=window,
        deposit_window=window, balance_opens_at=main.starts_at,
        balance_closes_at=main.ends_at + window + timedelta(minutes=5))
    services.gate_load(sale_id=sale.pk)
    return sale
