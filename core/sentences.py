"""What the storefront says for every refusal: one clear sentence per `ErrorCode`
(docs/api.md), and one per `TicketReason` a rejected ticket can carry.

The pages never show a service's raw message or a stack trace; they look the code up here.
A test fails when a member has no sentence; a code outside the enum (none should exist)
falls back to the service's own message, which is written for people.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import DomainError, ErrorCode, TicketReason

APPEAL_HOW = ("If you think this is a mistake, send an appeal from the form below: a person "
              "reads every appeal, and a cleared account can buy again at once.")

E, R = ErrorCode, TicketReason

SENTENCES: dict[ErrorCode, str] = {
    # docs/api.md, the original contract
    E.INVALID: "Some of the details you entered need another look.",
    E.UNAUTHENTICATED: "Please log in to continue.",
    E.BLOCKED: "This account cannot buy in this sale right now.",
    E.FORBIDDEN: "You are not allowed to do that.",
    E.NOT_FOUND: "We could not find that page. It may have been removed, or it is not yours.",
    E.NOT_STARTED: "The sale has not started yet. The buy button turns on at {starts_at}.",
    E.ENDED: "This sale has ended.",
    E.SOLD_OUT: "Sold out: every unit of this sale has been taken.",
    E.LIMIT_REACHED: "You already bought the most this sale allows per shopper ({limit}).",
    E.RESERVATION_REQUIRED: "This sale is only for shoppers who reserved before it opened, "
                            "and this account has no reservation.",
    E.FCODE_INVALID: "That F-code did not work: it is wrong, already used, expired, "
                     "or belongs to another account or sale.",
    E.PAYMENT_EXPIRED: "The time to pay for this order has run out, so the unit went back "
                       "on sale.",
    E.ALREADY_PAID: "This order is already paid. Nothing more to do.",
    E.NOT_PAYABLE: "This order cannot be paid right now.",
    E.RATE_LIMITED: "Too many tries in a short time. Please wait {retry_after} and try again.",
    # docs/api.md, extensions: the gate and the sale modes
    E.UNAVAILABLE: "The sale is briefly unavailable and nothing was sold. Please try again "
                   "in a few seconds.",
    E.BUSY: "So many people are buying that the queue is full. Nothing was sold; please try "
            "again in a moment.",
    E.NO_PURCHASE_RIGHT: "This is a draw sale: only draw winners holding a purchase right "
                         "can buy.",
    E.RESERVATION_CLOSED: "Reservations for this sale are not open right now.",
    E.DRAW_NOT_CLOSED: "The draw cannot run before reservations close.",
    E.DRAW_ALREADY_RUN: "The draw has already been run.",
    E.WRONG_MODE: "That does not apply to this kind of sale.",
    E.SALE_LOCKED: "This sale can no longer be changed that way.",
    E.STOCK_SOLD: "Those units are already sold.",
    E.FCODE_QUOTA_USED: "Every F-code for this sale has been handed out.",
    # docs/api.md, extensions: orders and payments
    E.NOT_CANCELLABLE: "This order can no longer be cancelled.",
    E.PAYMENT_FAILED: "The payment did not go through ({reason}). You were not charged; "
                      "you can try again.",
    E.PAYMENT_IN_PROGRESS: "Your payment is still being processed. Refresh in a moment.",
    E.IDEMPOTENCY_KEY_REUSED: "That form was already used for another order. Please reload "
                              "the page and try again.",
    # docs/api.md, extensions: ops answering ring cases
    E.CASE_ANSWERED: "This case was already answered; nothing was changed.",
    # docs/api.md, extensions: HTTP itself
    E.METHOD_NOT_ALLOWED: "That action is not available here.",
    E.NOT_ACCEPTABLE: "We cannot answer in the format that was asked for.",
    E.INTERNAL: "Something went wrong on our side. It has been logged; please try again.",
    E.ERROR: "We could not do that. Please go back and try again.",
}

TICKET_REASONS: dict[TicketReason, str] = {
    R.RISK_BLOCKED: "Our anti-scalper checks stopped this purchase, and the unit went back "
                    "on sale.",
    R.ADDRESS_INVALID: "The delivery address was not one of yours, so the purchase was "
                       "dropped.",
    R.UNDELIVERABLE: "We could not process this purchase; the unit went back on sale.",
    R.GATE_REBUILT: "The sale was briefly interrupted and this purchase could not be kept. "
                    "Please try again.",
    R.GATE_LOST: "The sale was briefly interrupted and this purchase was lost with it; "
                 "nothing was sold. Please try again.",
    R.SOLD_OUT: "The last units were already taken when this purchase was checked; nothing "
                "was sold.",
    R.LIMIT_REACHED: "This purchase would have gone over the sale's per-shopper limit, so "
                     "nothing was sold on it.",
    R.FCODE_INVALID: "The F-code turned out to be used or expired when this purchase was "
                     "checked; nothing was sold.",
}


def when(value) -> str:
    """A moment as a shopper reads it, in the store's time zone."""
    moment = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return "the announced time"
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value) -> str:
    try:
        seconds = max(int(value), 1)
    except (TypeError, ValueError):
        return "a minute"
    return "1 second" if seconds == 1 else f"{seconds} seconds"


def sentence_for(error: DomainError) -> str:
    """The page's sentence for a refusal."""
    template = SENTENCES.get(error.code)
    if template is None:
        return error.message
    details = error.details or {}
    if error.code == "unavailable" and details.get("outcome") == "unknown":
        return ("We lost the answer to your purchase: it may have gone through. Look in "
                "My orders in a minute before you try again.")
    if error.code == "not_payable" and "balance_opens_at" in details:
        return ("The balance can be paid from "
                f"{when(details['balance_opens_at'])}; come back then.")
    values = {
        "starts_at": when(details.get("starts_at")),
        "limit": details.get("limit", "the limit"),
        "retry_after": _seconds(details.get("retry_after")),
        "reason": error.message.removeprefix("The payment failed: ").rstrip("."),
    }
    return template.format(**values)


def field_errors(error: DomainError) -> list[str]:
    """For `invalid`: one line per field, in words ("password: This password is too short.")."""
    if error.code != "invalid":
        return []
    lines = []
    for field, problems in (error.details or {}).items():
        problems = problems if isinstance(problems, list) else [problems]
        label = field.replace("_", " ")
        lines.extend(f"{label}: {problem}" for problem in problems)
    return lines or [error.message]


def ticket_reason(reason: str | None) -> str:
    return TICKET_REASONS.get(reason or "", "This purchase could not be completed.")
