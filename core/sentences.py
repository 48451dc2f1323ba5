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
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, ErrorCode, TicketReason

APPEAL_HOW = _("If you think this is a mistake, send an appeal from the form below: a person "
               "reads every appeal, and a cleared account can buy again at once.")

E, R = ErrorCode, TicketReason

SENTENCES: dict[ErrorCode, str] = {
    # docs/api.md, the original contract
    E.INVALID: _("Some of the details you entered need another look."),
    E.UNAUTHENTICATED: _("Please log in to continue."),
    E.BLOCKED: _("This account cannot buy in this sale right now."),
    E.FORBIDDEN: _("You are not allowed to do that."),
    E.NOT_FOUND: _("We could not find that page. It may have been removed, or it is not yours."),
    E.NOT_STARTED: _("The sale has not started yet. The buy button turns on at {starts_at}."),
    E.ENDED: _("This sale has ended."),
    E.SOLD_OUT: _("Sold out: every unit of this sale has been taken."),
    E.LIMIT_REACHED: _("You already bought the most this sale allows per shopper ({limit})."),
    E.RESERVATION_REQUIRED: _("This sale is only for shoppers who reserved before it opened, "
                              "and this account has no reservation."),
    E.FCODE_INVALID: _("That F-code did not work: it is wrong, already used, expired, "
                       "or belongs to another account or sale."),
    E.PAYMENT_EXPIRED: _("The time to pay for this order has run out, so the unit went back "
                         "on sale."),
    E.ALREADY_PAID: _("This order is already paid. Nothing more to do."),
    E.NOT_PAYABLE: _("This order cannot be paid right now."),
    E.RATE_LIMITED: _("Too many tries in a short time. Please wait {retry_after} and try again."),
    # docs/api.md, extensions: the gate and the sale modes
    E.UNAVAILABLE: _("The sale is briefly unavailable and nothing was sold. Please try again "
                     "in a few seconds."),
    E.BUSY: _("So many people are buying that the queue is full. Nothing was sold; please try "
              "again in a moment."),
    E.NO_PURCHASE_RIGHT: _("This is a draw sale: only draw winners holding a purchase right "
                           "can buy."),
    E.RESERVATION_CLOSED: _("Reservations for this sale are not open right now."),
    E.DRAW_NOT_CLOSED: _("The draw cannot run before reservations close."),
    E.DRAW_ALREADY_RUN: _("The draw has already been run."),
    E.WRONG_MODE: _("That does not apply to this kind of sale."),
    E.SALE_LOCKED: _("This sale can no longer be changed that way."),
    E.STOCK_SOLD: _("Those units are already sold."),
    E.FCODE_QUOTA_USED: _("Every F-code for this sale has been handed out."),
    # docs/api.md, extensions: orders and payments
    E.NOT_CANCELLABLE: _("This order can no longer be cancelled."),
    E.PAYMENT_FAILED: _("The payment did not go through ({reason}). You were not charged; "
                        "you can try again."),
    E.PAYMENT_IN_PROGRESS: _("Your payment is still being processed. Refresh in a moment."),
    E.IDEMPOTENCY_KEY_REUSED: _("That form was already used for another order. Please reload "
                                "the page and try again."),
    # docs/api.md, extensions: ops answering ring cases
    E.CASE_ANSWERED: _("This case was already answered; nothing was changed."),
    # docs/api.md, extensions: reminders of a sale's opening
    E.ALREADY_OPEN: _("This sale has already opened, so there is nothing left to remind you "
                      "of."),
    # docs/api.md, extensions: HTTP itself
    E.METHOD_NOT_ALLOWED: _("That action is not available here."),
    E.NOT_ACCEPTABLE: _("We cannot answer in the format that was asked for."),
    E.INTERNAL: _("Something went wrong on our side. It has been logged; please try again."),
    E.ERROR: _("We could not do that. Please go back and try again."),
}

TICKET_REASONS: dict[TicketReason, str] = {
    R.RISK_BLOCKED: _("Our anti-scalper checks stopped this purchase, and the unit went back "
                      "on sale."),
    R.ADDRESS_INVALID: _("The delivery address was not one of yours, so the purchase was "
                         "dropped."),
    R.UNDELIVERABLE: _("We could not process this purchase; the unit went back on sale."),
    R.GATE_REBUILT: _("The sale was briefly interrupted and this purchase could not be kept. "
                      "Please try again."),
    R.GATE_LOST: _("The sale was briefly interrupted and this purchase was lost with it; "
                   "nothing was sold. Please try again."),
    R.SOLD_OUT: _("The last units were already taken when this purchase was checked; nothing "
                  "was sold."),
    R.LIMIT_REACHED: _("This purchase would have gone over the sale's per-shopper limit, so "
                       "nothing was sold on it."),
    R.FCODE_INVALID: _("The F-code turned out to be used or expired when this purchase was "
                       "checked; nothing was sold."),
}


def when(value) -> str:
    """A moment as a shopper reads it, in the store's time zone and the page's language:
    "12月2日 10:00" or "2 Dec 10:00" (the year only when it is not this one)."""
    moment = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return gettext("the announced time")
    local, this_year = timezone.localtime(moment), timezone.localtime().year
    if (get_language() or "").startswith("zh"):
        year = "" if local.year == this_year else f"{local.year}年"
        return f"{year}{local.month}月{local.day}日 {local:%H:%M}"
    year = "" if local.year == this_year else f" {local.year}"
    return f"{local.day} {local:%b}{year} {local:%H:%M}"


def _seconds(value) -> str:
    try:
        seconds = max(int(value), 1)
    except (TypeError, ValueError):
        return gettext("a minute")
    return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}


def sentence_for(error: DomainError) -> str:
    """The page's sentence for a refusal, in the page's language."""
    template = SENTENCES.get(error.code)
    if template is None:
        return error.message
    details = error.details or {}
    if error.code == "unavailable" and details.get("outcome") == "unknown":
        return gettext("We lost the answer to your purchase: it may have gone through. Look "
                       "in My orders in a minute before you try again.")
    if error.code == "not_payable" and "balance_opens_at" in details:
        return gettext("The balance can be paid from {at}; come back then.").format(
            at=when(details["balance_opens_at"]))
    values = {
        "starts_at": when(details.get("starts_at")),
        "limit": details.get("limit", gettext("the limit")),
        "retry_after": _seconds(details.get("retry_after")),
        "reason": _gateway_reason(error.message.removeprefix("The payment failed: ")
                                  .rstrip(".")),
    }
    return str(template).format(**values)


# What the (simulated) gateway says when it declines, as a shopper reads it.
GATEWAY_REASONS = {"card declined by the issuer": _("card declined by the issuer")}


def _gateway_reason(reason: str) -> str:
    """The gateway's reason in the page's language; one we do not know, as the gateway said
    it (better than no reason)."""
    return str(GATEWAY_REASONS.get(reason, reason))


# The storefront's form fields, as a shopper reads their names.
FIELD_LABELS = {
    "username": _("Username"), "password": _("Password"), "phone": _("Mobile phone"),
    "recipient": _("Recipient"), "line1": _("Street and number"), "city": _("City"),
    "postcode": _("Postcode"), "province": _("Province"), "district": _("District"),
    "code": _("Code"), "message": _("Message"),
    "quantity": _("Quantity"), "address_id": _("Delivery address"), "fcode": _("F-code"),
    "method": _("Payment method"), "field": _("A field"),
}


def field_problems(error: DomainError) -> dict[str, list[str]]:
    """For `invalid`: each field's problems, for the page to write next to its field (the
    figures beside them, such as tries_left, left out)."""
    if error.code != "invalid":
        return {}
    found: dict[str, list[str]] = {}
    for field, problems in (error.details or {}).items():
        if isinstance(problems, int | float):
            continue
        found[field] = [str(p) for p in (problems if isinstance(problems, list) else [problems])]
    return found


def field_errors(error: DomainError) -> list[str]:
    """For `invalid`: one line per field, in words ("Password: This password is too short.")."""
    if error.code != "invalid":
        return []
    lines = []
    for field, problems in (error.details or {}).items():
        if isinstance(problems, int | float):
            continue  # a figure beside the fields (tries_left), not a problem of one
        problems = problems if isinstance(problems, list) else [problems]
        label = FIELD_LABELS.get(field, field.replace("_", " "))
        lines.extend(f"{label}: {problem}" for problem in problems)
    return lines or [error.message]


def ticket_reason(reason: str | None) -> str:
    return str(TICKET_REASONS.get(reason or "", _("This purchase could not be completed.")))
