"""Redis lost mid-sale: the gate fails closed, is rebuilt from the database, never oversells."""

from __future__ import annotations

from django.core.management import call_command

from sales import services
from sales.gate import holdings
from sales.gate import keys as gate_keys
from sales.gate import ops as gate_ops
from sales.gate.admission import Purchase
from sales.models import RejectedTicket
from sales.pipeline import orders as pipeline
from sales.pipeline import reconcile
from shop.models import Order


def _admit(sale, users):
    return [services.purchase_admit(purchase=Purchase(
        sale_id=sale.pk, user_id=u)).ticket for u in users]


def test_redis_flushed_mid_sale_fails_closed_until_rebuilt_and_never_oversells(
        make_sale, buyer_ids, redis_client):
    sale = make_sale(stock=100)
    users = buyer_ids(260)
    _admit(sale, users[:40])
    pipeline.drain(sale_id=sale.pk, batch=25, time_budget=0)  # nothing: budget spent at once
    held = pipeline.batch_read(sale_id=sale.pk, consumer="stale-worker", count=20,
                               min_idle_ms=0)                  # a worker holds 20 in flight
    pipeline.drain(sale_id=sale.pk)                            # the other 20 become orders
    assert Order.objects.filter(sale_id=sale.pk).count() == 20

    redis_client.flushdb()

    for user in users[40:45]:
        try:
            services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=user))
            raise AssertionError("a lost gate admitted a buyer")
        except Exception as refusal:  # noqa: BLE001
            assert refusal.code == "unavailable"
    assert pipeline.drain(sale_id=sale.pk) == 0
    drift = reconcile.sale_reconcile(sale_id=sale.pk)
    assert not drift.loaded and not drift.clean

    left, queued = services.gate_rebuild(sale_id=sale.pk)
    assert (left, queued) == (80, 0)

    # The stale worker finally writes its 20 entries: refused, they belong to the lost gate.
    outcome = pipeline.batch_write(sale=sale, batch=held)
    assert set(outcome.rejected.values()) == {"gate_rebuilt"} and not outcome.released

    _admit(sale, users[45:125])
    for user in users[125:]:
        try:
            services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=user))
        except Exception as refusal:  # noqa: BLE001
            assert refusal.code == "sold_out"
    pipeline.drain(sale_id=sale.pk)
    assert Order.objects.filter(sale_id=sale.pk).count() == 100
    assert RejectedTicket.objects.filter(sale=sale, reason="gate_rebuilt").count() == 20
    assert reconcile.sale_reconcile(sale_id=sale.pk).clean


def test_the_periodic_reconciliation_rebuilds_a_lost_gate(live_sale, redis_client, settings):
    settings.GATE_AUTO_REBUILD = True
    redis_client.flushdb()
    [drift] = reconcile.gates_reconcile()
    assert not drift.loaded
    assert holdings.state(sale_id=live_sale.pk).loaded
    assert holdings.stock_left(sale_id=live_sale.pk) == live_sale.stock


def test_the_preloader_never_reloads_a_lost_gate_with_its_full_stock(live_sale, buyer_ids,
                                                                     redis_client):
    _admit(live_sale, buyer_ids(3))
    pipeline.drain(sale_id=live_sale.pk)
    redis_client.flushdb()
    assert services.gates_preload() == []
    assert not holdings.state(sale_id=live_sale.pk).loaded


def test_reconcile_sale_reports_drift_and_rebuild_fixes_it(live_sale, buyer_ids, redis_client,
                                                           capsys):
    _admit(live_sale, buyer_ids(3))
    pipeline.drain(sale_id=live_sale.pk)
    redis_client.incrby(gate_keys.SaleKeys(live_sale.pk).stock, 5)  # drift: 5 phantom units
    drift = reconcile.sale_reconcile(sale_id=live_sale.pk)
    assert drift.stock_drift == 5

    try:
        call_command("reconcile_sale", live_sale.pk)
        raise AssertionError("drift should exit non-zero")
    except SystemExit as exit_:
        assert exit_.code == 1
    call_command("reconcile_sale", live_sale.pk, "--rebuild")
    assert "gate and database agree" in capsys.readouterr().out
    assert holdings.stock_left(sale_id=live_sale.pk) == live_sale.stock - 3


def test_a_gate_left_by_another_sale_with_the_same_id_is_wiped_not_reused(make_sale,
                                                                          buyer_ids):
    old = make_sale(stock=1000)
    old_id, keys = old.pk, gate_keys.SaleKeys(old.pk)
    stale = gate_keys.connection().hgetall(keys.meta)
    # The database is reset (the sale row is gone) while Redis keeps the old gate's keys...
    old.delete()
    # ...and a new sale gets the same id: creating it wipes them, loading it checks them.
    gate_keys.connection().hset(keys.meta, mapping=stale)
    gate_keys.connection().set(keys.stock, 1000)
    gate_keys.connection().hset(f"rs:{old_id}:cl", "7", 5)  # the old sale's risk counters
    new = make_sale(stock=2, id=old_id)
    assert new.pk == old_id and holdings.stock_left(sale_id=new.pk) == 2
    assert not gate_keys.connection().exists(f"rs:{old_id}:cl")
    users = buyer_ids(3)
    services.purchase_admit(purchase=Purchase(sale_id=new.pk, user_id=users[0]))
    services.purchase_admit(purchase=Purchase(sale_id=new.pk, user_id=users[1]))
    try:
        services.purchase_admit(purchase=Purchase(sale_id=new.pk, user_id=users[2]))
        raise AssertionError("sold a third unit of two")
    except Exception as refusal:  # noqa: BLE001
        assert refusal.code == "sold_out"


def test_a_stale_gate_is_wiped_when_its_incarnation_differs(live_sale, redis_client):
    keys = gate_keys.SaleKeys(live_sale.pk)
    redis_client.hset(keys.meta, "incarnation", 1)  # another sale's gate under this id
    redis_client.set(keys.stock, 999_999)
    assert gate_ops.incarnation_check(sale_id=live_sale.pk, incarnation=2)
    assert not redis_client.exists(keys.stock)
    services.gate_rebuild(sale_id=live_sale.pk)
    assert holdings.stock_left(sale_id=live_sale.pk) == live_sale.stock
