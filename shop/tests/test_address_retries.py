"""Adding an address is safe to retry: the same Idempotency-Key from the same shopper answers
the address its first request added and adds nothing (docs/api.md, "Retries"); the same key
with another address is 409 `idempotency_key_reused`; another shopper's key is their own."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from shop.models import Address
from shop.tests.fixtures import client_for

BODY = {"recipient": "Li Lei", "phone": "13800138000", "line1": "88 Jianguo Road",
        "city": "Beijing", "postcode": "100022"}
URL = "/api/v1/me/addresses"


@pytest.mark.django_db
def test_a_retried_post_adds_one_address_and_answers_the_first(make_customer):
    shopper = make_customer(with_address=False)
    api = client_for(shopper.user)
    first = api.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Address.objects.filter(customer=shopper).count() == 1
    other_key = api.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    no_key = api.post(URL, BODY, format="json")
    assert other_key.status_code == no_key.status_code == 201
    assert Address.objects.filter(customer=shopper).count() == 3  # new keys, new addresses


@pytest.mark.django_db
def test_the_same_key_for_another_address_is_refused_and_adds_nothing(make_customer):
    shopper = make_customer(with_address=False)
    api = client_for(shopper.user)
    assert api.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    other = api.post(URL, {**BODY, "line1": "1 Tianfu Avenue"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="k")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Address.objects.filter(customer=shopper).count() == 1


@pytest.mark.django_db
def test_one_shoppers_key_is_not_anothers(make_customer):
    a, b = make_customer(with_address=False), make_customer(with_address=False)
    for shopper in (a, b):
        response = client_for(shopper.user).post(URL, BODY, format="json",
                                                 HTTP_IDEMPOTENCY_KEY="shared")
        assert response.status_code == 201
        assert response.json()["id"] in set(Address.objects.filter(customer=shopper)
                                            .values_list("pk", flat=True))


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", " ", "x" * 65, "bad\nkey"])
def test_a_malformed_key_is_a_clear_400(make_customer, key):
    shopper = make_customer(with_address=False)
    response = client_for(shopper.user).post(URL, BODY, format="json",
                                             HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not Address.objects.filter(customer=shopper).exists()


@pytest.mark.django_db(transaction=True)
def test_retries_sent_at_once_add_one_address(make_customer):
    """Four copies of one request racing: the customer's row lock queues them, and the
    database's unique (customer, key) refuses a second row whatever the code did (SQLite runs
    them one at a time; PostgreSQL truly at once)."""
    shopper = make_customer(with_address=False)
    answers: list[int] = []

    def post() -> None:
        try:
            answers.append(client_for(shopper.user).post(
                URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="race").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Address.objects.filter(customer=shopper).count() == 1
    assert set(answers) <= {201, 503}, answers  # SQLite's lock wait may answer 503, never 500
    assert 201 in answers
