"""Every operation of the OpenAPI schema documents its error responses with the envelope."""

from __future__ import annotations

import pytest

REF = "#/components/schemas/ErrorEnvelope"


@pytest.fixture
def schema(anon, db):
    return anon.get("/api/v1/schema/?format=json").json()


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", path, operation


def _error_ref(response: dict) -> str | None:
    return response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")


def test_the_error_envelope_is_a_component_with_code_message_and_details(schema):
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]
    assert set(envelope["properties"]["error"]["required"]) == {"code", "message", "details"}


def test_every_operation_documents_400_and_500_with_the_envelope(schema):
    missing = [name for name, _, op in _operations(schema)
               if any(_error_ref(op["responses"].get(s, {})) != REF for s in ("400", "500"))]
    assert not missing


def test_every_authenticated_operation_documents_401_and_every_staff_one_403(schema):
    """401 wherever a token is needed; 403 `forbidden` where a valid token can still be
    refused: behind the staff rights of the ops endpoints (docs/api.md)."""
    missing = [name for name, path, op in _operations(schema)
               if op.get("security") and {} not in op["security"]
               and not ({"401"} | ({"403"} if path.startswith("/api/v1/ops/") else set())
                        <= set(op["responses"]))]
    assert not missing


def test_every_operation_on_an_object_documents_404(schema):
    missing = [name for name, path, op in _operations(schema)
               if "{" in path and "404" not in op["responses"]]
    assert not missing


def test_the_purchase_documents_its_conflicts_rate_limit_and_gate_errors(schema):
    responses = schema["paths"]["/api/v1/sales/{sale_id}/purchase"]["post"]["responses"]
    assert {"403", "409", "429", "503"} <= set(responses)
    assert "`sold_out`" in responses["409"]["description"]
    assert "`busy`" in responses["503"]["description"]
