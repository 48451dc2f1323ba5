"""`core.errors.ErrorCode` is the one list of the API's error codes: the storefront's
sentences, the schema, the gate's refusals, the contract in docs/api.md and every code
written in the source derive from it, so a new code cannot be added without it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from config.openapi import EXTRA, NO_BACKING_SERVICE, STATUS_TEXT, _codes_for
from core.errors import STATUS_BY_CODE, DomainError, ErrorCode, TicketReason
from core.sentences import SENTENCES, TICKET_REASONS
from sales.gate.admission import REFUSALS
from shop.tests.fixtures import client_for

ROOT = Path(__file__).resolve().parents[2]
# Every app, core above all: its exception handler writes most of the codes the API answers.
APPS = ("antiscalper", "config", "core", "loadtests", "sales", "shop")
# Calls whose first argument is an error code.
CODE_CALLS = {"DomainError", "envelope"}
# admit.lua's verdicts that are not error codes: successes, and the ones admission.admit translates.
# ...and `reroute` and `empty` never leave the gate: its caller asks again (another bucket,
# or the same one once units moved in: sales.gate.admission._decide).
GATE_VERDICTS_TRANSLATED = {"admitted", "duplicate", "no_right", "fcode_locked",
                            "invalid_quantity", "reroute", "empty"}


def test_every_error_code_has_a_sentence_for_the_storefront():
    assert [code for code in ErrorCode if code not in SENTENCES] == []
    assert all(isinstance(code, ErrorCode) for code in SENTENCES)


def test_every_ticket_rejection_reason_has_a_sentence_for_the_storefront():
    assert [reason for reason in TicketReason if reason not in TICKET_REASONS] == []
    assert all(isinstance(reason, TicketReason) for reason in TICKET_REASONS)


def test_an_error_code_is_its_string_and_carries_its_status():
    assert ErrorCode.SOLD_OUT == "sold_out" and ErrorCode("busy") is ErrorCode.BUSY
    assert f"{ErrorCode.NOT_FOUND}" == "not_found"
    assert DomainError("sold_out", "No.").status == 409
    assert DomainError(ErrorCode.BUSY, "No.").status == 503
    assert {code: status for code, status in STATUS_BY_CODE.items()} == {
        code: code.status for code in ErrorCode if code.status not in (None, 409)}


def test_the_gate_refuses_only_with_error_codes():
    assert all(isinstance(code, ErrorCode) for code in REFUSALS)
    lua = (ROOT / "sales" / "gate" / "lua" / "admit.lua").read_text()
    verdicts = set(re.findall(r"return \{'([a-z_]+)'", lua))
    assert verdicts, "no verdict found in admit.lua"
    unknown = verdicts - GATE_VERDICTS_TRANSLATED - set(ErrorCode)
    assert not unknown
    # rate_limited is raised with its own message and Retry-After; every other code has one
    assert verdicts & set(ErrorCode) - {ErrorCode.RATE_LIMITED} <= set(REFUSALS)


@pytest.fixture
def schema(anon, db):
    return anon.get("/api/v1/schema/?format=json").json()


def test_every_code_the_schema_lists_is_an_error_code(schema):
    listed = set()
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            assert all(isinstance(code, ErrorCode)
                       for codes in _codes_for(path, operation).values() for code in codes)
            for status, response in operation["responses"].items():
                prefix = f"{STATUS_TEXT.get(int(status), '?')}: "
                if int(status) >= 400 and response["description"].startswith(prefix):
                    text = response["description"].removeprefix(prefix)
                    listed |= set(re.findall(r"`([a-z_]+)`", text))
    assert {"invalid", "sold_out", "busy"} <= listed
    assert listed - set(ErrorCode) == set()


def _listed(schema, path: str, status: int) -> set[str]:
    """The codes the schema says `POST path` can answer with `status`."""
    response = schema["paths"][path]["post"]["responses"].get(str(status), {})
    return set(re.findall(r"`([a-z_]+)`", response.get("description", "")))


def test_the_schema_puts_fcode_quota_used_on_the_operation_that_answers_it(
        schema, superuser, make_sale, make_customer):
    """Issuing F-codes past the quota answers 409 `fcode_quota_used`; releasing the quota
    never does (a used-up quota releases nothing, 200). The schema had the two swapped."""
    ops = client_for(superuser)
    sale = make_sale(stock=10, fcode_quota=1, load=False)
    make_customer(fan_level=3)
    make_customer(fan_level=3)
    issue = f"/api/v1/ops/sales/{sale.pk}/fcodes"
    assert ops.post(issue, {"count": 1, "fan_level_min": 0}, format="json").status_code == 201
    full = ops.post(issue, {"count": 1, "fan_level_min": 0}, format="json")
    assert (full.status_code, full.json()["error"]["code"]) == (409, "fcode_quota_used")
    released = ops.post(f"{issue}/release")
    assert released.status_code == 200

    assert "fcode_quota_used" in _listed(schema, "/api/v1/ops/sales/{sale_id}/fcodes", 409)
    assert "fcode_quota_used" not in _listed(
        schema, "/api/v1/ops/sales/{sale_id}/fcodes/release", 409)


def test_every_operation_the_schema_hook_names_exists(schema):
    operation_ids = {operation.get("operationId") for operations in schema["paths"].values()
                     for operation in operations.values()}
    assert {*EXTRA, *NO_BACKING_SERVICE} - operation_ids == set()


def test_the_contract_documents_every_error_code_and_ticket_reason():
    contract = (ROOT / "docs" / "api.md").read_text()
    documented = set(re.findall(r"`([a-z_]+)`", contract))
    assert [code for code in ErrorCode if code not in documented] == []
    assert [reason for reason in TicketReason if reason not in documented] == []


def _literal_codes(tree: ast.AST) -> list[tuple[int, str]]:
    """String codes written in the source: the first argument of DomainError(...) and
    envelope(...), and `"code"` in an `{"error": {...}}` literal."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if name in CODE_CALLS and isinstance(first, ast.Constant) and isinstance(
                    first.value, str):
                found.append((node.lineno, first.value))
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (isinstance(key, ast.Constant) and key.value == "error"
                        and isinstance(value, ast.Dict)):
                    for inner_key, inner in zip(value.keys, value.values, strict=True):
                        if (isinstance(inner_key, ast.Constant) and inner_key.value == "code"
                                and isinstance(inner, ast.Constant)):
                            found.append((inner.lineno, inner.value))
    return found


def _sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts:
                continue
            yield path


def test_the_scan_finds_codes_written_as_strings():
    source = ('raise DomainError("no_such_code", "x")\n'
              'envelope("also_not", "y", 400)\n'
              'JsonResponse({"error": {"code": "nor_this", "message": ""}})\n'
              'raise DomainError(ErrorCode.SOLD_OUT, "fine")\n')
    assert [code for _, code in _literal_codes(ast.parse(source))] == [
        "no_such_code", "also_not", "nor_this"]


def test_the_scan_reads_every_app_with_a_package():
    apps = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert apps <= set(APPS), f"apps whose codes the scan would not read: {apps - set(APPS)}"


def test_no_code_in_the_source_is_outside_the_enum():
    written, strays = 0, []
    for path in _sources():
        for line, code in _literal_codes(ast.parse(path.read_text(), filename=str(path))):
            written += 1
            if code not in set(ErrorCode):
                strays.append(f"{path.relative_to(ROOT)}:{line}: {code}")
    assert written > 20, "the scan found almost no code: is it still looking at the source?"
    assert strays == []
