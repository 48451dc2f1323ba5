"""Outside review: attacks on "the database holds the line under every Redis failure".

Each test here encodes an attack that SUCCEEDED on the reviewed commit (e0807f1): it asserts
the claimed behaviour and fails today. See the review report for severity and fixes.
"""

from __future__ import annotations

import pytest

from core.errors import DomainError
from sales import services
from sales.gate.admission import Purchase
from sales.invariants import broken, holding_within_stock, sale_invariants
from sales.models import FlashSale
from sales.modes import fcodes
from sales.pipeline import orders as pipeline
from sales.pipeline import risk_feed
from shop.models import Order


def _drain(sale_id: int) -> int:
    return pipeline.drain(sale_id=sale_id, min_idle_ms=0, time_budget=10)


def _held(sale_id: int) -> int:
    return sum(Order.objects.filter(sale_id=sale_id, status__in=services.HOLDING)
               .values_list("lines__quantity", flat=True))


def _buy_all(sale_id: int, users: list[int]) -> int:
    admitted = 0
    for user in users:
        try:
            services.purchase_admit(purchase=Purchase(sale_id=sale_id, user_id=user))
            admitted += 1
        except DomainError:
            pass
    return admitted


def test_fcode_quota_release_on_a_redis_back_from_an_older_snapshot_oversells(
        gate_redis, make_sale, make_customer, buyer_ids):
    """fcode_quota_release trusts the gate's F-code stock (quota_release.lua checks neither
    the dataset stamp nor the database's fcode_units_taken). On a Redis restarted from a
    snapshot taken before the F-code buyers bought, it "moves" units that are sold, lowers
    FlashSale.fcode_quota below fcode_units_taken, and the guard's open-rush budget
    (open_stock - open taken) then lets the open rush sell the whole remaining stock: the
    record holds more than the stock, with the guard's approval."""
    sale = make_sale(stock=4, fcode_quota=2, load=False)
    fans = [make_customer(fan_level=3) for _ in range(2)]
    issued = fcodes.fcodes_issue(sale_id=sale.pk, count=2, fan_level_min=3)
    services.gate_load(sale_id=sale.pk)
    snapshot = gate_redis.server.save()      # F-code stock 2 in this backup
    for code in issued:
        services.purchase_admit(purchase=Purchase(
            sale_id=sale.pk, user_id=code.user_id, fcode=code.code))
    _drain(sale.pk)
    sale.refresh_from_db()
    assert (sale.units_taken, sale.fcode_units_taken) == (2, 2)
    assert len(fans) == 2

    gate_redis.server.restart_from(snapshot)  # Redis is back, older: "2 F-code units left"

    # Ops release the F-code quota to the open rush (API or admin) before the gate is
    # rebuilt: the gate is stale, and the release answers from it anyway.
    try:
        moved = fcodes.fcode_quota_release(sale_id=sale.pk)
    except DomainError as refusal:          # a stale gate refuses: it must be rebuilt first
        assert refusal.code == "unavailable"
        moved = None
    services.gate_rebuild(sale_id=sale.pk)
    if moved is None:                       # once rebuilt, nothing sold can be released
        moved = fcodes.fcode_quota_release(sale_id=sale.pk)
        assert moved == 0
    sale.refresh_from_db()
    assert sale.fcode_quota >= sale.fcode_units_taken
    _buy_all(sale.pk, buyer_ids(6))
    _drain(sale.pk)

    held = _held(sale.pk)
    assert held <= 4, (f"oversold: {held} units held of a stock of 4 (quota release moved "
                       f"{moved} sold F-code units; fcode_quota is now {sale.fcode_quota})")


def test_stock_lowered_on_a_stale_gate_goes_below_what_orders_hold(
        gate_redis, make_sale, buyer_ids):
    """sale_update's stock decrease is checked by the gate's free units only
    (gate_ops.adjust / adjust.lua, no dataset check, no check against units_taken). On a
    Redis back from an older snapshot the sold units look free, so ops can "remove unsold
    units" that orders hold: the record's stock drops below what it sold."""
    sale = make_sale(stock=5)
    snapshot = gate_redis.server.save()                  # 5 left in this backup
    assert _buy_all(sale.pk, buyer_ids(5)) == 5
    _drain(sale.pk)
    assert _held(sale.pk) == 5

    gate_redis.server.restart_from(snapshot)

    try:
        services.sale_update(sale_id=sale.pk, stock=1)  # "remove 4 unsold units"
    except DomainError:
        pass  # the claimed behaviour: refused, nothing unsold to remove
    check = holding_within_stock(sale_id=sale.pk)
    assert check.met, str(check)
    assert FlashSale.objects.get(pk=sale.pk).stock >= 5


@pytest.mark.django_db
def test_invariants_hold_after_stock_lowered_on_stale_gate_summary(gate_redis, make_sale,
                                                                  buyer_ids):
    """Same as above, checked through sale_invariants (what the fault suite asserts)."""
    sale = make_sale(stock=3)
    snapshot = gate_redis.server.save()
    _buy_all(sale.pk, buyer_ids(3))
    _drain(sale.pk)
    gate_redis.server.restart_from(snapshot)
    try:
        services.sale_update(sale_id=sale.pk, stock=0)
    except DomainError:
        pass
    checks = sale_invariants(sale_id=sale.pk)
    assert not broken(checks), "\n".join(map(str, checks))


@pytest.mark.django_db(transaction=True)
def test_risk_cancel_and_expiry_sweep_on_one_order_do_not_deadlock(make_sale, buyer_ids):
    """Lock order: attempts_drain's risk cancel (sales/pipeline/risk_feed.py) takes the sale's
    row lock FIRST and then updates Order rows (orders_cancel_for_risk); the expiry sweep
    (sale_order_expire) updates the Order row FIRST and then the sale's row (stock_release ->
    units_give_back). On PostgreSQL the two deadlock on an order that is being expired while
    the risk engine blocks its buyer: one of them dies with `deadlock detected`."""
    import threading
    from datetime import timedelta

    from django.db import connection, connections, transaction
    from django.utils import timezone

    from shop import services as shop_services

    if connection.vendor != "postgresql":
        pytest.skip("row-lock ordering: PostgreSQL only")
    sale = make_sale(stock=5)
    [user] = buyer_ids(1)
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=user))
    _drain(sale.pk)
    order = Order.objects.get(sale_id=sale.pk)
    Order.objects.filter(pk=order.pk).update(payment_due_at=timezone.now() - timedelta(1))
    expiry_locked_order, risk_locked_sale = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def expiry() -> None:  # sale_order_expire's body, paused between its two writes
        try:
            with transaction.atomic():
                shop_services.order_expire(order_id=order.pk)
                expiry_locked_order.set()
                risk_locked_sale.wait(5)
                services.stock_release(order_id=order.pk, reason="expired")
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connections.close_all()

    def risk() -> None:  # what risk_feed._drain_attempts calls for blocked tickets
        try:
            expiry_locked_order.wait(5)
            risk_locked_sale.set()
            risk_feed.blocked_orders_cancel(sale_id=sale.pk, tickets=[order.ticket])
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=expiry), threading.Thread(target=risk)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, f"{errors!r}"
