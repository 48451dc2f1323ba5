"""The hand-rolled purchase body parser accepts and refuses exactly what PurchaseInput does, and
the direct JSON reader exactly what DRF's parsers do."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.errors import DomainError
from core.http import json_body_of
from sales.api.serializers import PurchaseInput, purchase_input

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
        assert (parsed.get("fcode") or None) == (serializer.validated_data.get("fcode") or None)
    else:
        assert fields == set(serializer.errors)


def test_a_body_that_is_not_an_object_is_invalid():
    with pytest.raises(DomainError) as error:
        purchase_input([1, 2])
    assert error.value.code == "invalid"


RAW_BODIES = [b"{}", b"", b'{"quantity": 2}', b'{"quantity": NaN}', b'{"x": -Infinity}',
              b"{bad", b"[1, 2]", b'"text"', b"null", b"\xff\xfe{}", b'{"fcode": "\xc3\xa9"}']
JSON_TYPES = ["application/json", "application/json; charset=utf-8", "Application/JSON"]


def _drf_request(raw: bytes, content_type: str):
    django_request = APIRequestFactory().generic("POST", "/x", raw, content_type=content_type)
    return Request(django_request, parsers=[JSONParser(), FormParser(), MultiPartParser()])


def _outcome(read):
    try:
        return "ok", read()
    except ParseError as error:
        return "parse_error", str(error.detail).split(":")[0]


@pytest.mark.parametrize("content_type", JSON_TYPES)
@pytest.mark.parametrize("raw", RAW_BODIES, ids=[repr(b) for b in RAW_BODIES])
def test_the_direct_json_reader_answers_what_drfs_parser_answers(raw, content_type):
    ours = _outcome(lambda: json_body_of(_drf_request(raw, content_type)))
    drf = _outcome(lambda: _drf_request(raw, content_type).data)
    assert ours == drf


def test_other_content_types_still_go_through_drfs_parsers():
    assert json_body_of(_drf_request(b"quantity=2", "application/x-www-form-urlencoded")) \
        == {"quantity": ["2"]}


def test_a_body_that_is_not_utf8_is_refused_where_drfs_reader_drops_the_last_byte():
    with pytest.raises(ParseError) as refusal:
        json_body_of(_drf_request(b'{"quantity": 1}\xe2', "application/json"))
    assert str(refusal.value.detail).startswith("JSON parse error")
