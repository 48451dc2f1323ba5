"""The textbook row-lock purchase (benchmarks' comparison): also correct, just slower."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from core.errors import DomainError
from sales.gate.keys import ticket_new
from sales.modes import textbook
from shop.models import Order
from shop.tests.fixtures import client_for


@pytest.mark.django_db(transaction=True)
def test_threads_racing_the_row_lock_never_oversell(make_sale, buyer_ids):
    sale = make_sale(stock=10, load=False)
    outcomes: list[str] = []

    def attempt(user_id: int) -> None:
        try:
            textbook.purchase_row_lock(sale_id=sale.pk, user_id=user_id, ticket=ticket_new(1))
            outcomes.append("ok")
        except DomainError as refusal:
            outcomes.append(refusal.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(u,)) for u in buyer_ids(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Order.objects.filter(sale_id=sale.pk).count() == 10
    assert outcomes.count("ok") == 10 and outcomes.count("sold_out") == 30


def test_the_row_lock_strategy_answers_through_the_same_endpoint(make_sale, customer,
                                                                  settings):
    settings.PURCHASE_STRATEGY = "row_lock"
    sale = make_sale(stock=1, load=False)
    client = client_for(customer.user)
    answer = client.post(f"/api/v1/sales/{sale.pk}/purchase", {}, format="json")
    assert (answer.status_code, answer.json()["status"]) == (202, "confirmed")
    again = client.post(f"/api/v1/sales/{sale.pk}/purchase", {}, format="json")
    assert again.json()["error"]["code"] == "limit_reached"
