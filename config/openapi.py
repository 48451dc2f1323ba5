"""The error half of the OpenAPI schema: one ErrorEnvelope component and, on every operation,
the error statuses it can answer with the codes behind each (docs/api.md's table,
whose codes are `core.errors.ErrorCode`).

A drf-spectacular postprocessing hook rather than `extend_schema(responses=...)` on every
view: the envelope is made in one place (core.error_handling), so it is documented in one place,
and a new view cannot forget it. Responses a view documents itself are left alone.
"""

from __future__ import annotations

from core.errors import ErrorCode

E = ErrorCode

ENVELOPE = {
    "type": "object",
    "description": "Every error has this body and nothing else (docs/api.md).",
    "properties": {"error": {
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "Stable machine-readable code."},
            "message": {"type": "string", "description": "A human sentence."},
            "details": {"type": "object", "additionalProperties": True,
                        "description": "Field errors for `invalid`; context otherwise."},
        },
        "required": ["code", "message", "details"],
    }},
    "required": ["error"],
}

STATUS_TEXT = {400: "Bad request", 401: "Unauthenticated", 402: "Payment declined",
               403: "Refused", 404: "Not found", 406: "Not acceptable (the API answers JSON)",
               409: "Conflict with the object's state",
               429: "Rate limited (`Retry-After` set)", 500: "Server error (logged)",
               503: "Redis or the database is unavailable, or the gate cannot answer; nothing "
                    "was sold unless `details.outcome` is `unknown`"}
PURCHASE_CONFLICTS = [E.NOT_STARTED, E.ENDED, E.SOLD_OUT, E.LIMIT_REACHED,
                      E.RESERVATION_REQUIRED, E.FCODE_INVALID, E.NO_PURCHASE_RIGHT]
# Operations that touch neither Redis nor the database (the token alone answers): every other
# one answers 503 `unavailable` when either drops its connections (core.error_handling), the
# rate-limited ones included, since their counters are in the Redis cache.
NO_BACKING_SERVICE = {"auth_whoami_retrieve"}
# Codes beyond the ones every operation of its kind has, by operationId.
# config/tests/test_schema_codes.py reads each view's source for what it can answer.
EXTRA = {
    "auth_register_create": {429: [E.RATE_LIMITED]},
    "auth_token_create": {401: [E.UNAUTHENTICATED], 429: [E.RATE_LIMITED]},
    "auth_token_refresh_create": {401: [E.UNAUTHENTICATED]},
    "me_retrieve": {404: [E.NOT_FOUND]},            # an account without a customer profile
    "me_addresses_create": {404: [E.NOT_FOUND], 409: [E.IDEMPOTENCY_KEY_REUSED]},
    "me_phone_code_create": {404: [E.NOT_FOUND], 429: [E.RATE_LIMITED]},
    "me_phone_confirm_create": {404: [E.NOT_FOUND], 429: [E.RATE_LIMITED]},
    "appeals_create": {429: [E.RATE_LIMITED]},
    "sales_purchase_create": {403: [E.BLOCKED], 409: PURCHASE_CONFLICTS,
                              429: [E.RATE_LIMITED], 503: [E.BUSY]},
    "sales_reservations_create": {403: [E.BLOCKED], 409: [E.RESERVATION_CLOSED],
                                  429: [E.RATE_LIMITED]},
    "sales_draw_retrieve": {409: [E.WRONG_MODE]},
    "sales_reminder_update": {409: [E.ALREADY_OPEN]},
    "orders_pay_create": {402: [E.PAYMENT_FAILED],
                          409: [E.PAYMENT_EXPIRED, E.ALREADY_PAID, E.NOT_PAYABLE,
                                E.PAYMENT_IN_PROGRESS, E.IDEMPOTENCY_KEY_REUSED]},
    "orders_cancel_create": {409: [E.NOT_CANCELLABLE]},
    "ops_sales_partial_update": {409: [E.SALE_LOCKED, E.STOCK_SOLD]},
    "ops_sales_draw_create": {409: [E.DRAW_NOT_CLOSED, E.DRAW_ALREADY_RUN, E.WRONG_MODE]},
    "ops_sales_fcodes_create": {409: [E.FCODE_QUOTA_USED, E.WRONG_MODE]},
    "ops_sales_fcodes_release_create": {409: [E.WRONG_MODE]},
    "ops_sales_cases_confirm_create": {409: [E.CASE_ANSWERED]},
    "ops_sales_cases_clear_create": {409: [E.CASE_ANSWERED]},
}
REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
# Operations behind `core.permissions.staff_with`: the only ones a valid token can be refused
# (403) on; the others need a token at most (401 without one).
STAFF_ONLY = "ops_"


def _codes_for(path: str, operation: dict) -> dict[int, list[ErrorCode]]:
    security = operation.get("security") or []
    codes: dict[int, list[ErrorCode]] = {400: [E.INVALID], 406: [E.NOT_ACCEPTABLE],
                                         500: [E.INTERNAL]}
    if any(security):  # a token is read where one may be sent, and a bad one refused
        codes[401] = [E.UNAUTHENTICATED]
    if operation.get("operationId", "").startswith(STAFF_ONLY):  # staff_with: a right needed
        codes[403] = [E.FORBIDDEN]
    if "{" in path:
        codes[404] = [E.NOT_FOUND]
    if operation.get("operationId") not in NO_BACKING_SERVICE:
        codes[503] = [E.UNAVAILABLE]
    for status, extra in EXTRA.get(operation.get("operationId", ""), {}).items():
        codes[status] = sorted({*codes.get(status, []), *extra})
    return dict(sorted(codes.items()))


def error_responses(result, generator, request, public):
    """POSTPROCESSING_HOOKS entry: add ErrorEnvelope and each operation's error responses."""
    result.setdefault("components", {}).setdefault("schemas", {})["ErrorEnvelope"] = ENVELOPE
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, codes in _codes_for(path, operation).items():
                operation["responses"].setdefault(str(status), {
                    "description": f"{STATUS_TEXT[status]}: "
                                   + ", ".join(f"`{code}`" for code in codes),
                    "content": {"application/json": {"schema": REF}},
                })
    return result
