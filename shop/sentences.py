"""What the storefront says for every refusal: one clear sentence per error code of API.md.

The pages never show a service's raw message or a stack trace; they look the code up here.
A code not listed falls back to the service's own message, which is written for people.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from shop.errors import DomainError

APPEAL_HOW = ("If you think this is a mistake, send an appeal from the form below: a person "
              "reads every appeal, and a cleared account can buy again at once.")

SENTENCES: dict[str, str] = {
    # API.md
    "invalid": "Some of the details you entered need another look.",
    "unauthenticated": "Please log in to continue.",
    "blocked": "This account cannot buy in this sale right now.",
    "forbidden": "You are not allowed to do that.",
    "not_found": "We could not find that page. It may have been removed, or it is not yours.",
    "not_started": "The sale has not started yet. The buy button turns on at {starts_at}.",
    "ended": "This sale has ended.",
    "sold_out": "Sold out: every unit of this sale has been taken.",
    "limit_reached": "You already bought the most this sale allows per shopper ({limit}).",
    "reservation_required": "This sale is only for shoppers who reserved before it opened, "
                            "and this account has no reservation.",
    "fcode_invalid": "That F-code did not work: it is wrong, already used, expired, "
                     "or belongs to another account or sale.",
    "payment_expired": "The time to pay for this order has run out, so the unit went back "
                       "on sale.",
    "already_paid": "This order is already paid. Nothing more to do.",
    "not_payable": "This order cannot be paid right now.",
    "rate_limited": "Too many tries in a short time. Please wait {retry_after} and try again.",
    # the README's extra codes
    "unavailable": "The sale is briefly unavailable and nothing was sold. Please try again "
                   "in a few seconds.",
    "busy": "So many people are buying that the queue is full. Nothing was sold; please try "
            "again in a moment.",
    "no_purchase_right": "This is a draw sale: only draw winners holding a purchase right "
                         "can buy.",
    "reservation_closed": "Reservations for this sale are not open right now.",
    "draw_not_closed": "The draw cannot run before reservations close.",
    "draw_already_run": "The draw has already been run.",
    "wrong_mode": "That does not apply to this kind of sale.",
    "sale_locked": "This sale can no longer be changed that way.",
    "stock_sold": "Those units are already sold.",
    "fcode_quota_used": "Every F-code for this sale has been handed out.",
    # the order and payment services
    "not_cancellable": "This order can no longer be cancelled.",
    "payment_failed": "The payment did not go through ({reason}). You were not charged; "
                      "you can try again.",
    "payment_in_progress": "Your payment is still being processed. Refresh in a moment.",
    "idempotency_key_reused": "That form was already used for another order. Please reload "
                              "the page and try again.",
    "internal": "Something went wrong on our side. It has been logged; please try again.",
}

TICKET_REASONS: dict[str, str] = {
    "risk_blocked": "Our anti-scalper checks stopped this purchase, and the unit went back "
                    "on sale.",
    "address_invalid": "The delivery address was not one of yours, so the purchase was "
                       "dropped.",
    "undeliverable": "We could not process this purchase; the unit went back on sale.",
    "gate_rebuilt": "The sale was briefly interrupted and this purchase could not be kept. "
                    "Please try again.",
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
