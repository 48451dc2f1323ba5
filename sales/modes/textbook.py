"""The textbook purchase: a database row lock per attempt. Kept for comparison only.

Enabled with PURCHASE_STRATEGY=row_lock. Every attempt serialises on the sale's row, checks
stock and the buyer's limit in SQL and writes the order synchronously. Correct, and the
bottleneck that the Redis gate exists to remove: `make bench` measures both side by side.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from core.errors import DomainError
from sales import bulk
from sales.models import HOLDING, FlashSale, SaleBuyer, sale_locked
from shop.models import Order, OrderLine, OrderStatus
from shop.services import order_number_new


def purchase_row_lock(*, sale_id: int, user_id: int, quantity: int = 1,
                      address_id: int | None = None, ticket: str) -> Order:
    """Lock the sale row, check time, limit and stock in SQL, write the order."""
    now = timezone.now()
    with transaction.atomic():
        sale = sale_locked(sale_id)
        if now < sale.starts_at:
            raise DomainError("not_started", "The sale has not started yet.",
                              details={"starts_at": sale.starts_at.isoformat()})
        if now >= sale.ends_at:
            raise DomainError("ended", "The sale has ended.",
                              details={"ends_at": sale.ends_at.isoformat()})
        if quantity > sale.per_user_limit:
            raise DomainError("invalid", f"At most {sale.per_user_limit} per customer.",
                              details={"quantity": ["over the limit"]})
        bought = OrderLine.objects.filter(
            order__sale_id=sale_id, order__user_id=user_id, order__status__in=HOLDING,
        ).aggregate(units=Sum("quantity"))["units"] or 0
        if bought + quantity > sale.per_user_limit:
            raise DomainError("limit_reached", "You have reached this sale's per-user limit.",
                              details={"limit": sale.per_user_limit})
        if sale.row_lock_sold + quantity > sale.stock:
            raise DomainError("sold_out", "Sold out: no stock is left in this sale.")
        FlashSale.objects.filter(pk=sale_id).update(row_lock_sold=F("row_lock_sold") + quantity,
                                                    units_taken=F("units_taken") + quantity)
        bulk.units_add(SaleBuyer, sale_id=sale_id, units_by_user={user_id: quantity})
        order = Order.objects.create(
            number=order_number_new(), user_id=user_id, address_id=address_id,
            status=OrderStatus.AWAITING_PAYMENT, total=sale.price * quantity,
            payment_due_at=now + sale.payment_window, sale_id=sale_id, ticket=ticket,
            created_at=now,
        )
        OrderLine.objects.create(order=order, sku_id=sale.sku_id, quantity=quantity,
                                 unit_price=sale.price)
    return order
