"""Domain errors: every business refusal is one of these, with the API's error code.

Services raise them; one exception handler (core.error_handling) turns them into the error
envelope of docs/api.md, so views never build error bodies themselves. `ErrorCode` lists
every code the API can answer; the storefront's sentences, the schema's error responses and
the tests derive from it, so a code cannot be added anywhere without being added here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.http import JsonResponse


class ErrorCode(StrEnum):
    """Every `error.code` the API answers, each with its HTTP status where it is fixed.

    Members are strings (`ErrorCode.SOLD_OUT == "sold_out"`), so code that passes or compares
    plain strings keeps working. The status of `ERROR` is that of the response it stands for.
    """

    status: int | None

    def __new__(cls, value: str, status: int | None = 409) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        return member

    # docs/api.md, the original contract
    INVALID = "invalid", 400
    UNAUTHENTICATED = "unauthenticated", 401
    BLOCKED = "blocked", 403
    FORBIDDEN = "forbidden", 403
    NOT_FOUND = "not_found", 404
    NOT_STARTED = "not_started"
    ENDED = "ended"
    SOLD_OUT = "sold_out"
    LIMIT_REACHED = "limit_reached"
    RESERVATION_REQUIRED = "reservation_required"
    FCODE_INVALID = "fcode_invalid"
    PAYMENT_EXPIRED = "payment_expired"
    ALREADY_PAID = "already_paid"
    NOT_PAYABLE = "not_payable"
    RATE_LIMITED = "rate_limited", 429
    # docs/api.md, extensions: the gate and the sale modes
    UNAVAILABLE = "unavailable", 503
    BUSY = "busy", 503
    NO_PURCHASE_RIGHT = "no_purchase_right"
    RESERVATION_CLOSED = "reservation_closed"
    DRAW_NOT_CLOSED = "draw_not_closed"
    DRAW_ALREADY_RUN = "draw_already_run"
    WRONG_MODE = "wrong_mode"
    SALE_LOCKED = "sale_locked"
    STOCK_SOLD = "stock_sold"
    FCODE_QUOTA_USED = "fcode_quota_used"
    # docs/api.md, extensions: orders and payments
    NOT_CANCELLABLE = "not_cancellable"
    PAYMENT_FAILED = "payment_failed", 402
    PAYMENT_IN_PROGRESS = "payment_in_progress"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    # docs/api.md, extensions: ops answering ring cases
    CASE_ANSWERED = "case_answered"
    # docs/api.md, extensions: reminders of a sale's opening
    ALREADY_OPEN = "already_open"
    # docs/api.md, extensions: HTTP itself
    METHOD_NOT_ALLOWED = "method_not_allowed", 405
    NOT_ACCEPTABLE = "not_acceptable", 406
    INTERNAL = "internal", 500
    ERROR = "error", None


class TicketReason(StrEnum):
    """Why a rejected ticket sold nothing (`GET /api/v1/tickets/{ticket}`'s `reason`)."""

    RISK_BLOCKED = "risk_blocked"
    ADDRESS_INVALID = "address_invalid"
    UNDELIVERABLE = "undeliverable"      # a poison entry
    GATE_REBUILT = "gate_rebuilt"        # admitted by a gate whose keys were lost
    GATE_LOST = "gate_lost"              # acknowledged, then lost with Redis
    # admitted by a stale gate, refused by the database's own guard
    SOLD_OUT = "sold_out"
    LIMIT_REACHED = "limit_reached"
    FCODE_INVALID = "fcode_invalid"


STATUS_BY_CODE: dict[str, int] = {
    code: code.status for code in ErrorCode if code.status not in (None, 409)
}


class DomainError(Exception):
    """A refusal with a stable code; the HTTP status follows from the code (409 by default)."""

    def __init__(self, code: str, message: str, *, details: dict[str, Any] | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or STATUS_BY_CODE.get(code, 409)


def not_found(what: str = "object") -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"No such {what}.")


def invalid(message: str, **fields: Any) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, details=fields)


def envelope(code: str, message: str, status: int, details: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> JsonResponse:
    """The API's error envelope, `{"error": {"code", "message", "details"}}`, as a response:
    the one place it is built (the exception handler, and the storefront's JSON polls)."""
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response
