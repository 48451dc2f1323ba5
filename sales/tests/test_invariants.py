"""The invariant checker: met on a clean sale, broken by each crafted violation (so a checker
that always says "met" fails here)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from sales import invariants, services
from sales.gate.admission import Purchase
from sales.invariants import broken, sale_invariants
from sales.models import RejectedTicket, StockReturn
from sales.pipeline import orders as pipeline
from shop.models import Order, OrderLine, OrderStatus, Payment
from shop.services import order_number_new


@pytest.fixture
def sold(make_sale, buyer_ids):
    """A sale of 5 units, 3 sold through the gate and the pipeline: (sale, users, tickets)."""
    sale = make_sale(stock=5, limit=1)
    users = buyer_ids(6)
    tickets = [services.purchase_admit(purchase=Purchase(
        sale_id=sale.pk, user_id=u)).ticket for u in users[:3]]
    pipeline.drain(sale_id=sale.pk)
    return sale, users, tickets


def _order(sale, user_id: int, *, quantity: int = 1, status=OrderStatus.AWAITING_PAYMENT,
           ticket: str | None = None) -> Order:
    """An order written straight to the database, behind the gate's back."""
    now = timezone.now()
    order = Order.objects.create(number=order_number_new(now), user_id=user_id, status=status,
                                 total=sale.price * quantity, sale_id=sale.pk, ticket=ticket,
                                 created_at=now)
    OrderLine.objects.create(order=order, sku_id=sale.sku_id, quantity=quantity,
                             unit_price=sale.price)
    return order


def _by_name(checks) -> dict[str, invariants.Invariant]:
    return {check.name: check for check in checks}


def test_a_clean_sale_meets_every_invariant_and_says_what_it_measured(sold):
    sale, _, tickets = sold
    checks = _by_name(sale_invariants(sale_id=sale.pk, tickets=tickets))
    assert not broken(checks.values())
    assert set(checks) == {"holding_within_stock", "nobody_over_limit", "tickets_end_once",
                           "units_conserved", "one_charge_per_order", "counters_agree"}
    assert checks["holding_within_stock"].value == "3 held of 5"
    assert checks["tickets_end_once"].value.startswith("3 tickets: 3 confirmed, 0 rejected")


def test_without_tickets_the_ticket_check_is_left_out(sold):
    sale, _, _ = sold
    names = [check.name for check in sale_invariants(sale_id=sale.pk)]
    assert "tickets_end_once" not in names and len(names) == 5


def test_orders_written_behind_the_gate_beyond_the_stock_break_holding_within_stock(sold):
    sale, users, _ = sold
    _order(sale, users[3], quantity=1)
    _order(sale, users[4], quantity=1)
    # 5 of 5: still within (the orders written behind the pipeline's back do break its
    # counters: that is the point of counters_agree)
    assert {c.name for c in broken(sale_invariants(sale_id=sale.pk))} == {"counters_agree"}
    _order(sale, users[5], quantity=1)
    checks = _by_name(broken(sale_invariants(sale_id=sale.pk)))
    assert set(checks) == {"holding_within_stock", "counters_agree"}
    check = checks["holding_within_stock"]
    assert check.value == "6 held of 5" and "1 units oversold" in check.detail


def test_a_second_order_of_one_buyer_breaks_nobody_over_limit(sold):
    sale, users, _ = sold
    _order(sale, users[0])
    checks = _by_name(broken(sale_invariants(sale_id=sale.pk)))
    assert set(checks) == {"nobody_over_limit", "counters_agree"}
    check = checks["nobody_over_limit"]
    assert f"user {users[0]} holds 2" in check.detail


def test_units_no_longer_held_do_not_count_against_stock_or_limit(sold):
    sale, users, _ = sold
    order = _order(sale, users[0], status=OrderStatus.EXPIRED)
    StockReturn.objects.create(order=order, sale=sale, quantity=1, reason="expired")
    assert not broken(sale_invariants(sale_id=sale.pk))


def test_a_ticket_without_a_decision_or_with_two_breaks_tickets_end_once(sold):
    sale, users, tickets = sold
    lost = f"{sale.pk}-00000000deadbeef"
    RejectedTicket.objects.create(ticket=tickets[0], sale=sale, user_id=users[0], quantity=1,
                                  reason="undeliverable")
    checks = _by_name(broken(sale_invariants(sale_id=sale.pk, tickets=[*tickets, lost])))
    check = checks["tickets_end_once"]
    assert check.value == "4 tickets: 2 confirmed, 0 rejected, 1 missing, 1 both"
    assert f"missing {lost}" in check.detail and f"both {tickets[0]}" in check.detail


def test_rejected_tickets_count_as_decided(sold):
    sale, users, tickets = sold
    RejectedTicket.objects.create(ticket=f"{sale.pk}-0000000000000001", sale=sale,
                                  user_id=users[4], quantity=1, reason="gate_lost")
    check = _by_name(sale_invariants(sale_id=sale.pk, tickets=[
        *tickets, f"{sale.pk}-0000000000000001"]))["tickets_end_once"]
    assert check.met and check.value.startswith("4 tickets: 3 confirmed, 1 rejected")


def test_an_expired_order_that_never_gave_its_unit_back_breaks_units_conserved(sold):
    sale, _, _ = sold
    order = Order.objects.filter(sale_id=sale.pk).first()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.EXPIRED)
    [check] = broken(sale_invariants(sale_id=sale.pk))
    assert check.name == "units_conserved" and f"order {order.pk} (expired)" in check.detail


def test_a_return_of_the_wrong_size_breaks_units_conserved(sold):
    sale, users, _ = sold
    order = _order(sale, users[4], quantity=2, status=OrderStatus.CANCELLED)
    StockReturn.objects.create(order=order, sale=sale, quantity=1, reason="cancelled")
    checks = _by_name(broken(sale_invariants(sale_id=sale.pk)))
    assert set(checks) == {"units_conserved", "counters_agree"}
    assert "has 2 units, returned 1" in checks["units_conserved"].detail


def test_a_return_from_an_order_that_still_holds_breaks_units_conserved(sold):
    sale, _, _ = sold
    order = Order.objects.filter(sale_id=sale.pk).first()
    StockReturn.objects.create(order=order, sale=sale, quantity=1, reason="expired")
    checks = _by_name(broken(sale_invariants(sale_id=sale.pk)))
    assert set(checks) == {"units_conserved", "counters_agree"}
    assert "that holds" in checks["units_conserved"].detail


def _payment(order, key: str, status=Payment.Status.SUCCEEDED, purpose="full") -> Payment:
    return Payment.objects.create(order=order, user_id=order.user_id, idempotency_key=key,
                                  purpose=purpose, amount=Decimal("1999.00"), status=status)


def test_two_successful_charges_for_one_order_break_one_charge_per_order(sold):
    sale, _, _ = sold
    order = Order.objects.filter(sale_id=sale.pk).first()
    _payment(order, "k1", status=Payment.Status.FAILED)
    _payment(order, "k2")
    _payment(order, "k3", purpose="deposit")  # another purpose is another charge
    assert not broken(sale_invariants(sale_id=sale.pk))
    _payment(order, "k4", status=Payment.Status.REFUNDED)
    [check] = broken(sale_invariants(sale_id=sale.pk))
    assert check.name == "one_charge_per_order"
    assert f"order {order.pk} full charged 2 times" in check.detail


def test_all_sales_invariants_names_each_sale(sold, make_sale):
    sale, _, tickets = sold
    other = make_sale(stock=1)
    checks = invariants.all_sales_invariants(sale_ids=[sale.pk, other.pk],
                                             tickets_by_sale={sale.pk: tickets})
    assert len(checks) == 11 and not broken(checks)
    assert checks[0].name == f"sale {sale.pk}: holding_within_stock"


def test_the_counters_follow_expiries_cancellations_and_refunds(sold):
    """The guard's counters move with every way units go back, so they agree afterwards."""
    sale, users, _ = sold
    first, second = Order.objects.filter(sale_id=sale.pk).order_by("pk")[:2]
    Order.objects.filter(pk=first.pk).update(payment_due_at=timezone.now())
    services.orders_expire_due(now=timezone.now() + timedelta(seconds=1))
    services.orders_cancel_for_risk(sale_id=sale.pk, user_ids=[second.user_id])
    checks = _by_name(sale_invariants(sale_id=sale.pk))
    assert not broken(checks.values()), checks
    sale.refresh_from_db()
    assert sale.units_taken == 1
    assert checks["counters_agree"].value.startswith("1 taken by the counter, 1 by the orders")
