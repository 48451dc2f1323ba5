"""Reads of the store, scoped to who is asking: a user only ever sees their own orders."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet, Sum

from core.errors import not_found
from shop.models import Address, Customer, Order, OrderLine, OrderStatus, Product, Sku


def product_list() -> QuerySet[Product]:
    active_skus = Prefetch("skus", queryset=Sku.objects.filter(is_active=True))
    return Product.objects.filter(is_active=True).prefetch_related(active_skus)


def product_get(*, product_id: int) -> Product:
    product = product_list().filter(pk=product_id).first()
    if product is None:
        raise not_found("product")
    return product


def customer_for_user(*, user_id: int) -> Customer:
    customer = Customer.objects.select_related("user").filter(user_id=user_id).first()
    if customer is None:
        raise not_found("customer profile")
    return customer


def address_list(*, user_id: int) -> QuerySet[Address]:
    """The shopper's live addresses, the default first (what checkout offers first), then in
    the order they were added. Deleted and archived versions are the orders' and the
    anti-scalper's, never the shopper's to pick again."""
    return Address.objects.filter(customer__user_id=user_id, deleted_at__isnull=True).order_by(
        "-is_default", "pk")


MAX_ID = 2**63 - 1  # a database key; a larger one is no address (SQLite cannot even ask)


def address_get(*, user_id: int, address_id: int) -> Address:
    """This shopper's address by an id it was given: the newest version of it, when the id
    names one an edit archived (`replaced_by`), so a retried edit finds what the first one
    made. Another shopper's, a deleted one, or none: `not_found`, one and the same."""
    found = (Address.objects.filter(pk=address_id, customer__user_id=user_id)
             .values_list("pk", "replaced_by_id").first()) if 0 < address_id <= MAX_ID else None
    address = (address_list(user_id=user_id).filter(pk=found[1] or found[0]).first()
               if found else None)
    if address is None:
        raise not_found("address")
    return address


def order_list(*, user_id: int) -> QuerySet[Order]:
    lines = Prefetch("lines", queryset=OrderLine.objects.select_related("sku"))
    return Order.objects.filter(user_id=user_id).select_related("address").prefetch_related(
        lines)


def order_get(*, order_id: int, user_id: int) -> Order:
    """The order if it is this user's; someone else's order is indistinguishable from none."""
    order = order_list(user_id=user_id).filter(pk=order_id).first()
    if order is None:
        raise not_found("order")
    return order


# An order that still holds its units for the shopper (placed, paid or on its way).
HOLDING = (OrderStatus.AWAITING_PAYMENT, OrderStatus.AWAITING_DEPOSIT,
           OrderStatus.AWAITING_BALANCE, OrderStatus.PAID, OrderStatus.SHIPPED,
           OrderStatus.DELIVERED)


def sale_holding(*, user_id: int, sale_id: int) -> tuple[Order | None, int]:
    """The shopper's latest order of a flash sale that still holds units, and how many units
    its orders of that sale hold in all: what the sale page's buy button says ("bought: view
    order" once the limit is reached). Two queries."""
    orders = Order.objects.filter(user_id=user_id, sale_id=sale_id, status__in=HOLDING)
    latest = orders.order_by("-pk").first()
    units = (OrderLine.objects.filter(order__in=orders).aggregate(n=Sum("quantity"))["n"]
             if latest else 0)
    return latest, units or 0
