"""The catalogue and a shopper's orders over HTTP: list, detail, pay, cancel."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from shop.models import OrderStatus, Payment, Product, Sku
from shop.tests.helpers import bearer_client

S = OrderStatus
ORDER_FIELDS = {"id", "number", "status", "lines", "total", "deposit", "balance_due",
                "payment_due_at", "sale"}


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


@pytest.fixture
def stranger(make_customer):
    return bearer_client(make_customer().user)


def test_the_catalogue_is_public_and_shows_prices_as_strings(anon, sku):
    response = anon.get("/api/v1/products")
    assert response.status_code == 200
    assert response["X-Total-Count"] == "1"
    [product] = response.json()
    assert product["skus"] == [{"id": sku.id, "code": sku.code, "name": sku.name,
                                "price": "2499.00"}]


def test_inactive_products_and_skus_are_hidden(anon, sku):
    Sku.objects.create(product=sku.product, code="OLD", name="Old", price=1, is_active=False)
    hidden = Product.objects.create(name="Mi 5", category="phone", is_active=False)
    assert [p["skus"][0]["code"] for p in anon.get("/api/v1/products").json()] == [sku.code]
    assert anon.get(f"/api/v1/products/{hidden.id}").status_code == 404


def test_a_product_has_a_detail_page_and_an_unknown_one_is_404(anon, sku):
    assert anon.get(f"/api/v1/products/{sku.product_id}").json()["name"] == sku.product.name
    response = anon.get("/api/v1/products/999999")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_lists_are_windowed_by_limit_and_offset(anon, db):
    for n in range(5):
        product = Product.objects.create(name=f"P{n}", category="tv")
        Sku.objects.create(product=product, code=f"P{n}", name=f"P{n}", price=1)
    response = anon.get("/api/v1/products?limit=2&offset=1")
    assert response["X-Total-Count"] == "5"
    assert [p["name"] for p in response.json()] == ["P1", "P2"]


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "offset=-1"])
def test_a_bad_window_is_400_invalid(anon, db, query):
    response = anon.get(f"/api/v1/products?{query}")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"


def test_a_shopper_lists_only_their_own_orders_newest_first(api, customer, make_order,
                                                            make_customer):
    older = make_order(user=customer.user)
    newer = make_order(user=customer.user)
    make_order(user=make_customer().user)
    response = api.get("/api/v1/orders")
    assert response.status_code == 200
    assert response["X-Total-Count"] == "2"
    assert [o["id"] for o in response.json()] == [newer.id, older.id]


def test_an_order_detail_shows_the_contract_fields(api, order, sku):
    body = api.get(f"/api/v1/orders/{order.id}").json()
    assert ORDER_FIELDS <= set(body)
    assert (body["status"], body["total"], body["sale"]) == ("awaiting_payment", "2499.00", None)
    assert body["lines"] == [{"sku": sku.id, "sku_code": sku.code, "sku_name": sku.name,
                              "quantity": 1, "unit_price": "2499.00"}]
    assert datetime.fromisoformat(body["payment_due_at"]) == order.payment_due_at


@pytest.mark.parametrize("action", ["get detail", "post pay", "post cancel"])
def test_someone_elses_order_is_404_everywhere(stranger, order, action):
    method, what = action.split()
    path = {"detail": f"/api/v1/orders/{order.id}", "pay": f"/api/v1/orders/{order.id}/pay",
            "cancel": f"/api/v1/orders/{order.id}/cancel"}[what]
    response = getattr(stranger, method)(path, {}, format="json")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT
    assert not Payment.objects.exists()


def test_paying_answers_the_paid_order(api, order):
    response = api.post(f"/api/v1/orders/{order.id}/pay", {"method": "wechat",
                                                          "amount": "2499.00"}, format="json")
    assert response.status_code == 200
    assert response.json()["order"]["status"] == "paid"
    assert Payment.objects.get().method == "wechat"


def test_paying_with_an_empty_body_pays_by_card(api, order):
    response = api.post(f"/api/v1/orders/{order.id}/pay")
    assert response.status_code == 200
    assert Payment.objects.get().method == "card"


def test_the_same_idempotency_key_twice_gives_the_same_answer_and_one_payment(api, order,
                                                                             ledger):
    answers = [api.post(f"/api/v1/orders/{order.id}/pay", format="json",
                        headers={"Idempotency-Key": "a1b2"}) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert Payment.objects.count() == 1
    assert len(ledger.charges) == 1


def test_an_idempotency_key_reused_for_another_order_is_409(api, order, make_order, customer):
    other = make_order(user=customer.user)
    api.post(f"/api/v1/orders/{order.id}/pay", headers={"Idempotency-Key": "k"})
    response = api.post(f"/api/v1/orders/{other.id}/pay", headers={"Idempotency-Key": "k"})
    assert response.status_code == 409
    assert error_of(response)["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("key", ["", " ", "x" * 65, "tab\there"])
def test_a_malformed_idempotency_key_is_400(api, order, key):
    response = api.post(f"/api/v1/orders/{order.id}/pay", headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert "idempotency_key" in error_of(response)["details"]
    assert not Payment.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"method": "cash"}, "method"), ({"amount": "lots"}, "amount"),
    ({"amount": "1.234"}, "amount"), ({"amount": "2000.00"}, "amount"),
])
def test_a_bad_payment_body_is_400_naming_the_field(api, order, body, field):
    response = api.post(f"/api/v1/orders/{order.id}/pay", body, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], list(error["details"])) == ("invalid", [field])
    assert not Payment.objects.filter(status="succeeded").exists()


@pytest.mark.parametrize(("status", "code"), [
    (S.PAID, "already_paid"), (S.EXPIRED, "payment_expired"), (S.CANCELLED, "not_payable"),
])
def test_paying_an_order_that_cannot_be_paid_is_409(api, make_order, customer, status, code):
    order = make_order(user=customer.user, status=status)
    response = api.post(f"/api/v1/orders/{order.id}/pay")
    assert response.status_code == 409
    assert error_of(response)["code"] == code


def test_a_declined_card_is_402_and_the_retry_is_the_same_402(api, order, settings):
    settings.PAYMENT_GATEWAY_FAILURE_RATE = 1.0
    first = api.post(f"/api/v1/orders/{order.id}/pay", headers={"Idempotency-Key": "k"})
    settings.PAYMENT_GATEWAY_FAILURE_RATE = 0.0
    retry = api.post(f"/api/v1/orders/{order.id}/pay", headers={"Idempotency-Key": "k"})
    assert first.status_code == retry.status_code == 402
    assert error_of(first) == error_of(retry)
    assert error_of(first)["code"] == "payment_failed"


def test_the_deposit_is_paid_first(api, deposit_order):
    response = api.post(f"/api/v1/orders/{deposit_order.id}/pay", {"amount": "100.00"},
                        format="json")
    body = response.json()["order"]
    assert (body["status"], body["deposit"], body["balance_due"]) == (
        "awaiting_balance", "100.00", "2399.00")
    balance = api.post(f"/api/v1/orders/{deposit_order.id}/pay")
    assert balance.status_code == 409
    assert error_of(balance)["code"] == "not_payable"
    assert Payment.objects.get().purpose == "deposit"


def test_a_shopper_cancels_an_unpaid_order(api, order):
    response = api.post(f"/api/v1/orders/{order.id}/cancel")
    assert response.status_code == 200
    assert response.json()["order"]["status"] == "cancelled"


def test_cancelling_a_paid_order_is_409_and_keeps_it_paid(api, make_order, customer):
    order = make_order(user=customer.user, status=S.PAID)
    response = api.post(f"/api/v1/orders/{order.id}/cancel")
    assert response.status_code == 409
    assert error_of(response) == {"code": "not_cancellable", "details": {"status": "paid"},
                                  "message": "An order that is paid cannot be cancelled."}
    order.refresh_from_db()
    assert order.status == S.PAID


def test_an_unknown_order_is_404(api, db):
    assert api.get("/api/v1/orders/987654").status_code == 404
    assert api.post("/api/v1/orders/987654/pay").status_code == 404


def test_money_in_answers_is_a_decimal_string(api, make_order, customer):
    order = make_order(user=customer.user, quantity=3)
    assert api.get(f"/api/v1/orders/{order.id}").json()["total"] == str(Decimal("7497.00"))
