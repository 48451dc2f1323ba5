"""Helpers for the anti-scalper tests."""

from __future__ import annotations

from antiscalper import mirror


def mirrored(kind: str) -> set[str]:
    """The values the gate would find blocked for `kind`, read from Redis."""
    return mirror.members(kind=kind)


def error_of(response) -> dict:
    """The error envelope's inner object; fails unless the body is exactly the envelope."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]
