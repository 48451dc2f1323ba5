"""Writes and decisions of flash sales: scheduling and editing sales, buying, tickets.

The gate (Redis) admits; the database records. The gate's life (loading, rebuilding) is
`sales.gate.lifecycle`, units going back is `sales.returns`; their writes are named here too,
so that callers find every write of the app in one namespace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from antiscalper.attempts import sale_signals_forget
from core.errors import DomainError, invalid, not_found
from sales import selectors
from sales.gate import admission
from sales.gate import ops as gate_ops
from sales.gate.keys import SHARDS_MAX, epoch_ms, sale_id_of_ticket
from sales.models import (
    FlashSale,
    RejectedTicket,
    SaleMode,
    deposit_worth,
    sale_lock,
    sale_locked,
)
from shop.models import Order

logger = logging.getLogger("flashsale.sales")

FROZEN_WHEN_LOADED = ("sku", "price", "starts_at", "per_user_limit", "mode", "deposit",
                      "payment_window", "reservation_opens_at", "reservation_closes_at",
                      "requires_reservation", "fcode_quota", "deposit_expansion",
                      "deposit_window", "balance_opens_at", "balance_closes_at",
                      "right_window", "shards")


# The terms only a deposit pre-sale has (the others have defaults every mode carries).
DEPOSIT_TERMS = ("deposit", "balance_opens_at", "balance_closes_at")
# What an edit is checked against: the sale's terms with the changes laid over them.
MERGED_TERMS = ("starts_at", "ends_at", "mode", "deposit", "price", "deposit_expansion",
                "balance_opens_at", "balance_closes_at", "reservation_opens_at",
                "reservation_closes_at", "requires_reservation", "stock", "fcode_quota",
                "deposit_window", "shards")


def _validate(fields: dict) -> None:
    shards = fields.get("shards", 1)
    if not isinstance(shards, int) or not 1 <= shards <= SHARDS_MAX:
        raise invalid(gettext("A sale's stock splits into 1 to %(max)s shards.")
                      % {"max": SHARDS_MAX},
                      shards=[f"must be between 1 and {SHARDS_MAX}"])
    starts, ends = fields.get("starts_at"), fields.get("ends_at")
    if starts and ends and ends <= starts:
        raise invalid(gettext("A sale must end after it starts."),
                      ends_at=["must be after starts_at"])
    if fields.get("mode") == SaleMode.DEPOSIT and not fields.get("deposit"):
        raise invalid(gettext("A deposit pre-sale needs a deposit."),
                      deposit=["required for deposit"])
    deposit, price = fields.get("deposit"), fields.get("price")
    if deposit and price and deposit_worth(deposit, fields.get("deposit_expansion")) >= price:
        raise invalid(gettext("The deposit (with its expansion) must be less than the price."),
                      deposit=["must be < price"])
    if fields.get("mode") == SaleMode.DEPOSIT and not (
            fields.get("balance_opens_at") and fields.get("balance_closes_at")):
        raise invalid(gettext("A deposit pre-sale needs its balance window."),
                      balance_opens_at=["required for deposit"])
    opens, closes = fields.get("balance_opens_at"), fields.get("balance_closes_at")
    if opens and closes and closes <= opens:
        raise invalid(gettext("The balance window must close after it opens."),
                      balance_closes_at=["must be after balance_opens_at"])
    if fields.get("mode") == SaleMode.DEPOSIT:
        _validate_balance_window(fields)
    r_opens, r_closes = fields.get("reservation_opens_at"), fields.get("reservation_closes_at")
    if (fields.get("mode") in (SaleMode.RESERVATION, SaleMode.DRAW)
            or fields.get("requires_reservation")) and not (r_opens and r_closes):
        raise invalid(gettext("This sale needs a reservation window."),
                      reservation_opens_at=["required when reservations are required"])
    if r_opens and r_closes and r_closes <= r_opens:
        raise invalid(gettext("The reservation window must close after it opens."),
                      reservation_closes_at=["must be after reservation_opens_at"])
    stock, quota = fields.get("stock"), fields.get("fcode_quota") or 0
    if stock is not None and quota > stock:
        raise invalid(gettext("The F-code quota is part of the stock."),
                      fcode_quota=["must be <= stock"])
    if fields.get("mode", SaleMode.OPEN) != SaleMode.DEPOSIT:
        stray = [f for f in DEPOSIT_TERMS if fields.get(f)]
        if stray:  # kept by a form that hid them, or sent by mistake: never silently dropped
            raise invalid(gettext("Only a deposit pre-sale has a deposit and a balance window; "
                                  "clear them or make it a deposit pre-sale."),
                          **{f: ["only for a deposit pre-sale"] for f in stray})


def _validate_balance_window(fields: dict) -> None:
    """A buyer who pays the deposit on time must be able to pay the balance: the window opens
    no earlier than the sale and closes after the latest deposit deadline (an order made at
    the sale's end, plus the deposit window). Otherwise the deposit is taken and forfeited."""
    starts, ends = fields.get("starts_at"), fields.get("ends_at")
    opens, closes = fields.get("balance_opens_at"), fields.get("balance_closes_at")
    window = fields.get("deposit_window") or FlashSale._meta.get_field("deposit_window").default
    if starts and opens and opens < starts:
        raise invalid(gettext("The balance window cannot open before the sale starts."),
                      balance_opens_at=[f"must be at or after starts_at ({starts.isoformat()})"])
    if ends and closes and closes <= ends + window:
        latest = (ends + window).isoformat()
        raise invalid(gettext("The balance window must close after the last deposit is due "
                              "(the sale's end plus the deposit window)."),
                      balance_closes_at=[f"must be after {latest}"])


def sale_validate(*, fields: dict, sale: FlashSale | None = None) -> None:
    """The checks sale_create and sale_update make, for forms that want them up front."""
    if sale is None:
        _validate(fields)
        return
    if sale.gate_loaded_at:
        frozen = [f for f in FROZEN_WHEN_LOADED if f in fields and fields[f] != getattr(sale, f)]
        if frozen:
            raise DomainError("sale_locked", "These fields cannot change once the sale's gate "
                              "is loaded.", details={f: ["locked while the gate is loaded"]
                                                     for f in frozen})
    merged = {**{f: getattr(sale, f) for f in MERGED_TERMS}, **fields}
    if merged["mode"] == SaleMode.DRAW and "stock" in fields:
        merged["fcode_quota"] = fields["stock"]  # as sale_update does: a winner's per unit
    _validate(merged)


def sale_create(**fields) -> FlashSale:
    """Schedule a sale; its gate is loaded by `gates_preload` shortly before it opens."""
    if fields.get("mode") == SaleMode.DRAW:
        fields["fcode_quota"] = fields.get("stock", 0)  # every unit goes to a winner's right
    _validate(fields)
    # One transaction: with Redis down the wipe raises (503 `unavailable`) and no sale is
    # left behind, so a client retrying the refused request schedules it once, not twice.
    with transaction.atomic():
        sale = FlashSale.objects.create(**fields)
        # A database reset can hand out this id again while Redis still holds a gate (and
        # risk counters) for it.
        gate_ops.wipe(sale_id=sale.pk)
        sale_signals_forget(sale_id=sale.pk)
        _gate_load_if_due(sale)
    return sale


def _gate_load_if_due(sale: FlashSale) -> None:
    """Load on commit the gate of a sale that opens within the preload lead: the preloader
    ticks every few seconds, so a sale scheduled 1.5 s ahead would open without its gate and
    answer `unavailable`. Robust: if Redis fails here, the preloader retries."""
    now = timezone.now()
    lead = timedelta(seconds=settings.GATE_PRELOAD_LEAD_SECONDS)
    if sale.gate_loaded_at is None and sale.ends_at > now and sale.starts_at <= now + lead:
        sale_id = sale.pk

        def load_now() -> None:  # named: Django logs a robust hook's failure by __qualname__,
            gate_load(sale_id=sale_id)  # which a functools.partial lacks (AttributeError)

        transaction.on_commit(load_now, robust=True)


def sale_update(*, sale_id: int, **changes) -> FlashSale:
    """Edit a sale. Once its gate is loaded only the title, the end and the stock may change,
    and stock through the gate so that Redis and the database move together."""
    with transaction.atomic():
        sale = sale_locked(sale_id)
        merged = {f: changes.get(f, getattr(sale, f)) for f in MERGED_TERMS}
        if merged["mode"] == SaleMode.DRAW and "stock" in changes and not sale.gate_loaded_at:
            changes["fcode_quota"] = merged["fcode_quota"] = changes["stock"]
        _validate(merged)
        if sale.gate_loaded_at:
            if sale.mode == SaleMode.DRAW and changes.get("stock", sale.stock) != sale.stock:
                raise DomainError("sale_locked", "A loaded draw's stock belongs to its winners.",
                                  details={"fields": ["stock"]})
            frozen = [f for f in FROZEN_WHEN_LOADED
                      if f in changes and changes[f] != getattr(sale, f if f != "sku" else "sku")]
            if frozen:
                raise DomainError("sale_locked", "These fields cannot change once the sale's "
                                  "gate is loaded.", details={"fields": frozen})
            if "stock" in changes and changes["stock"] != sale.stock:
                taken = sale.units_taken - sale.fcode_units_taken
                if changes["stock"] - sale.fcode_quota < taken:
                    raise DomainError("stock_sold", f"{taken} unit(s) of the open rush are "
                                      "already taken by orders.",
                                      details={"unsold": max(sale.open_stock - taken, 0)})
                gate_ops.adjust(sale_id=sale.pk, delta=changes["stock"] - sale.stock)
        for field, value in changes.items():
            setattr(sale, field, value)
        sale.save()
        if sale.gate_loaded_at and ("ends_at" in changes):
            gate_rebuild(sale_id=sale.pk)
        _gate_load_if_due(sale)
    return sale


def ticket_resolve(*, ticket: str, user_id: int) -> selectors.TicketStatus:
    """Where a ticket stands (`selectors.ticket_status`), and if neither Redis nor the
    database knows a ticket this account was issued before its gate was rebuilt after a loss,
    settle it as rejected (`gate_lost`), durably and under the sale's row lock: no worker that
    still holds it from the lost Redis can then write it, so it ends exactly once, and its
    buyer may try again."""
    try:
        return selectors.ticket_status(ticket=ticket, user_id=user_id)
    except DomainError as missing:
        sale_id = sale_id_of_ticket(ticket)
        if sale_id is None or not selectors.ticket_lost(ticket=ticket, user_id=user_id,
                                                        sale_id=sale_id):
            raise missing from None
    with transaction.atomic():
        sale_lock(sale_id)
        if Order.objects.filter(ticket=ticket).exists():
            return selectors.ticket_status(ticket=ticket, user_id=user_id)
        RejectedTicket.objects.get_or_create(
            ticket=ticket, defaults={"sale_id": sale_id, "user_id": user_id, "quantity": 0,
                                     "reason": "gate_lost"})
    return selectors.ticket_status(ticket=ticket, user_id=user_id)


def purchase_admit(*, purchase: admission.Purchase, now: datetime | None = None,
                   database: Callable[[Callable[[], None]], None] | None = None,
                   ) -> admission.Admission:
    """The hot path: one Redis call, no SQL. Everything is decided by the gate's script,
    F-codes included (only their HMAC travels). Only when the gate cannot answer does the
    database say why, if it knows better (no such sale, not started, ended).

    `database`, if given, runs that explanation (the rush path runs it between Django's
    request signals, which it sends for nothing else)."""
    try:
        return admission.admit(purchase=purchase, now_ms=epoch_ms(now or timezone.now()))
    except DomainError as refusal:
        if refusal.code == "unavailable" and "outcome" not in refusal.details:
            explain = partial(gate_unavailable_explain, sale_id=purchase.sale_id)
            if database is None:
                explain()
            else:
                database(explain)
        raise


def gate_unavailable_explain(*, sale_id: int, now: datetime | None = None) -> None:
    """Off the hot path: when the gate has no answer, say why if the record knows better."""
    sale = FlashSale.objects.filter(pk=sale_id).first()
    if sale is None:
        raise not_found("sale")
    now = now or timezone.now()
    if now < sale.starts_at:
        raise DomainError("not_started", admission.REFUSALS["not_started"],
                          details={"starts_at": sale.starts_at.isoformat()})
    if now >= sale.ends_at:
        raise DomainError("ended", admission.REFUSALS["ended"],
                          details={"ends_at": sale.ends_at.isoformat()})


# The app's other writes and the order states, callable as services.<name> like every write
# of the app: the gate's life, the units going back and the reminders live in their own
# modules.
from sales.gate.lifecycle import (  # noqa: E402, F401
    NEVER_COUNTED,
    HeldUnits,
    blacklist_mirror_ensure,
    gate_config,
    gate_holders,
    gate_load,
    gate_rebuild,
    gates_preload,
    returned_tokens,
    tickets_decided,
    units_held,
    units_taken_by_user,
)
from sales.models import HOLDING, NOT_HOLDING  # noqa: E402, F401
from sales.reminders import (  # noqa: E402, F401
    reminder_cancel,
    reminder_set,
    reminders_send_due,
)
from sales.returns import (  # noqa: E402, F401
    orders_cancel_for_risk,
    orders_expire_due,
    returns_replay,
    sale_order_expire,
    stock_release,
    units_give_back,
)
