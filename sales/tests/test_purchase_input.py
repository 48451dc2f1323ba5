"""The hand-rolled purchase body parser accepts and refuses exactly what PurchaseInput does."""

from __future__ import annotations

import pytest

from sales.serializers import PurchaseInput, purchase_input
from shop.errors import DomainError

BODIES = [
    {}, {"quantity": 1}, {"quantity": 100}, {"quantity": "3"}, {"quantity": 0},
    {"quantity": 101}, {"quantity": -1}, {"quantity": "x"}, {"quantity": 1.5},
    {"quantity": None}, {"quantity": True}, {"quantity": []}, {"address_id": 5},
    {"address_id": "7"}, {"address_id": 0}, {"address_id": "abc"}, {"address_id": None},
    {"fcode": "ABCD-EFGH"}, {"fcode": ""}, {"fcode": "x" * 33}, {"fcode": 12},
    {"quantity": 2, "address_id": 3, "fcode": "K7Q2-M9XP"}, {"unknown": "ignored"},
]


@pytest.mark.parametrize("body", BODIES, ids=[repr(b) for b in BODIES])
def test_the_fast_parser_agrees_with_the_serializer(body):
    serializer = PurchaseInput(data=body)
    expected_ok = serializer.is_valid()
    try:
        parsed = purchase_input(body)
        ok, fields = True, set()
    except DomainError as error:
        ok, fields = False, set(error.details)
    assert ok == expected_ok, serializer.errors
    if ok:
        assert parsed["quantity"] == serializer.validated_data["quantity"]
        assert parsed["address_id"] == serializer.validated_data.get("address_id")
    else:
        assert fields == set(serializer.errors)


def test_a_body_that_is_not_an_object_is_invalid():
    with pytest.raises(DomainError) as error:
        purchase_input([1, 2])
    assert error.value.code == "invalid"
