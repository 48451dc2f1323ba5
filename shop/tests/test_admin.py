"""Django admin: the pages render, and order actions obey the state machine."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages

from shop import payments
from shop.models import OrderStatus, Payment

S = OrderStatus


@pytest.fixture
def ops(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def paid_order(make_order, customer, ledger):
    order = make_order(user=customer.user)
    payments.order_pay(order_id=order.id, user_id=customer.user_id, idempotency_key="adm")
    return order


def run_action(client, action: str, *orders):
    response = client.post("/admin/shop/order/", {
        "action": action, "index": 0, ACTION_CHECKBOX_NAME: [o.id for o in orders],
    })
    assert response.status_code == 302
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("model", ["product", "sku", "customer", "address", "order", "payment"])
def test_a_superuser_sees_every_changelist_with_its_rows(ops, paid_order, customer, sku, model):
    expected = {"product": sku.product.name, "sku": sku.code, "customer": customer.phone,
                "address": "Nanjing Road", "order": paid_order.number,
                "payment": paid_order.number}[model]
    response = ops.get(f"/admin/shop/{model}/")
    assert response.status_code == 200
    assert expected in response.content.decode()


@pytest.mark.parametrize("query", ["status__exact=paid", "q={number}"])
def test_the_order_changelist_filters_and_searches(ops, paid_order, order, query):
    html = ops.get(f"/admin/shop/order/?{query.format(number=paid_order.number)}").content
    assert paid_order.number in html.decode()
    assert order.number not in html.decode()


def test_an_order_page_shows_lines_and_payments_but_no_editable_money(ops, paid_order):
    response = ops.get(f"/admin/shop/order/{paid_order.id}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert paid_order.payments.get().gateway_ref in html
    for field in ("total", "status", "deposit", "balance_due"):
        assert f'name="{field}"' not in html


def test_orders_and_payments_cannot_be_added_or_deleted_in_the_admin(ops, paid_order):
    assert ops.get("/admin/shop/order/add/").status_code == 403
    assert ops.get("/admin/shop/payment/add/").status_code == 403
    assert ops.get(f"/admin/shop/order/{paid_order.id}/delete/").status_code == 403


def test_a_staff_user_without_permissions_is_refused(client, customer):
    customer.user.is_staff = True
    customer.user.save()
    client.force_login(customer.user)
    assert client.get("/admin/shop/order/").status_code == 403


def test_shipping_moves_only_paid_orders(ops, paid_order, order):
    messages = run_action(ops, "mark_shipped", paid_order, order)
    paid_order.refresh_from_db()
    order.refresh_from_db()
    assert (paid_order.status, order.status) == (S.SHIPPED, S.AWAITING_PAYMENT)
    assert "Shipped 1 order(s)." in messages
    assert "1 order(s) were not in a state that allows it." in messages


def test_delivering_moves_only_shipped_orders(ops, paid_order, order):
    run_action(ops, "mark_shipped", paid_order)
    run_action(ops, "mark_delivered", paid_order, order)
    paid_order.refresh_from_db()
    order.refresh_from_db()
    assert (paid_order.status, order.status) == (S.DELIVERED, S.AWAITING_PAYMENT)


def test_cancelling_moves_only_unpaid_orders(ops, paid_order, order):
    messages = run_action(ops, "cancel_unpaid", paid_order, order)
    paid_order.refresh_from_db()
    order.refresh_from_db()
    assert (paid_order.status, order.status) == (S.PAID, S.CANCELLED)
    assert "Cancelled 1 order(s)." in messages


def test_refunding_returns_the_charge_of_paid_orders_only(ops, paid_order, order, ledger):
    messages = run_action(ops, "refund", paid_order, order)
    paid_order.refresh_from_db()
    order.refresh_from_db()
    assert (paid_order.status, order.status) == (S.REFUNDED, S.AWAITING_PAYMENT)
    assert paid_order.payments.get().status == Payment.Status.REFUNDED
    assert ledger.refunds == ledger.charges
    assert "Refunded 1 order(s)." in messages


def test_a_shipped_order_cannot_be_refunded_from_the_admin(ops, paid_order, ledger):
    run_action(ops, "mark_shipped", paid_order)
    messages = run_action(ops, "refund", paid_order)
    paid_order.refresh_from_db()
    assert paid_order.status == S.SHIPPED
    assert ledger.refunds == []
    assert "Refunded 0 order(s)." in messages


def test_customers_can_be_exported(ops, customer):
    response = ops.get("/admin/shop/customer/export/")
    assert response.status_code == 200
