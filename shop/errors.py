"""Domain errors: every business refusal is one of these, with the API's error code.

Services raise them; one exception handler (config.errors) turns them into the error
envelope of API.md, so views never build error bodies themselves.
"""

from __future__ import annotations

from typing import Any

STATUS_BY_CODE = {
    "invalid": 400,
    "unauthenticated": 401,
    "blocked": 403,
    "forbidden": 403,
    "not_found": 404,
    "rate_limited": 429,
    "unavailable": 503,
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
    return DomainError("not_found", f"No such {what}.")


def invalid(message: str, **fields: Any) -> DomainError:
    return DomainError("invalid", message, details=fields)
