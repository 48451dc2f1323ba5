"""The error half of the OpenAPI schema: one ErrorEnvelope component and, on every operation,
the error statuses it can answer with the codes behind each (API.md's table).

A drf-spectacular postprocessing hook rather than `extend_schema(responses=...)` on every
view: the envelope is made in one place (config.errors), so it is documented in one place,
and a new view cannot forget it. Responses a view documents itself are left alone.
"""

from __future__ import annotations

ENVELOPE = {
    "type": "object",
    "description": "Every error has this body and nothing else (API.md).",
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

STATUS_TEXT = {400: "Bad request", 401: "Unauthenticated", 403: "Refused",
               404: "Not found", 409: "Conflict with the object's state",
               429: "Rate limited (`Retry-After` set)", 500: "Server error (logged)",
               503: "The gate cannot answer; nothing was sold unless `details.outcome` is "
                    "`unknown`"}
PURCHASE_CONFLICTS = ["not_started", "ended", "sold_out", "limit_reached",
                      "reservation_required", "fcode_invalid", "no_purchase_right"]
# Codes beyond the ones every operation of its kind has, by operationId.
EXTRA = {
    "auth_register_create": {429: ["rate_limited"]},
    "auth_token_create": {401: ["unauthenticated"], 429: ["rate_limited"]},
    "auth_token_refresh_create": {401: ["unauthenticated"]},
    "appeals_create": {429: ["rate_limited"]},
    "sales_purchase_create": {403: ["blocked"], 409: PURCHASE_CONFLICTS,
                              429: ["rate_limited"], 503: ["unavailable", "busy"]},
    "sales_reservations_create": {403: ["blocked"], 409: ["reservation_closed", "ended",
                                                          "wrong_mode"],
                                  429: ["rate_limited"]},
    "sales_draw_retrieve": {409: ["wrong_mode"]},
    "tickets_retrieve": {503: ["unavailable"]},
    "orders_pay_create": {409: ["payment_expired", "already_paid", "not_payable"]},
    "orders_cancel_create": {409: ["not_cancellable"]},
    "ops_sales_partial_update": {409: ["sale_locked", "stock_sold"]},
    "ops_sales_draw_create": {409: ["draw_not_closed", "draw_already_run", "wrong_mode"]},
    "ops_sales_fcodes_create": {409: ["wrong_mode", "sale_locked"]},
    "ops_sales_fcodes_release_create": {409: ["fcode_quota_used", "wrong_mode"]},
}
REF = {"$ref": "#/components/schemas/ErrorEnvelope"}


def _codes_for(path: str, operation: dict) -> dict[int, list[str]]:
    security = operation.get("security")
    authenticated = bool(security) and {} not in security
    codes: dict[int, list[str]] = {400: ["invalid"], 500: ["internal"]}
    if authenticated:
        codes[401] = ["unauthenticated"]
        codes[403] = ["forbidden"]
    if "{" in path:
        codes[404] = ["not_found"]
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
