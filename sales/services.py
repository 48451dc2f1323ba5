"""Writes and decisions of flash sales: scheduling, loading the gate, buying, expiring.

The gate (Redis) admits; the database records. Units go back to the gate only through
`stock_release`, which inserts a unique StockReturn row first, so each order returns its
units exactly once however many sweepers race for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Greatest
from django.utils import timezone

from antiscalper import mirror
from antiscalper.signals import sale_signals_forget
from sales import gate, gate_ops, selectors
from sales.fcodes import code_hash
from sales.gate_keys import epoch_ms, sale_id_of_ticket
from sales.models import (
    FCode,
    FlashSale,
    RejectedTicket,
    Reservation,
    SaleBuyer,
    SaleMode,
    StockReturn,
    sale_locked,
)
from shop import services as shop_services
from shop.errors import DomainError, invalid, not_found
from shop.models import Order, OrderLine, OrderStatus
from shop.payments import order_refund, payments_refund

logger = logging.getLogger("flashsale.sales")

S = OrderStatus
HOLDING = (S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT, S.AWAITING_BALANCE, S.PAID, S.SHIPPED,
           S.DELIVERED)
NOT_HOLDING = (S.CANCELLED, S.EXPIRED, S.FORFEITED, S.REFUNDED)
# Rejections whose units were never counted by the gate that is live now (a lost or rebuilt
# gate's tickets): nothing of theirs goes back.
NEVER_COUNTED = ("gate_rebuilt", "gate_lost")
FROZEN_WHEN_LOADED = ("sku", "price", "starts_at", "per_user_limit", "mode", "deposit",
                      "payment_window", "reservation_opens_at", "reservation_closes_at",
                      "requires_reservation", "fcode_quota", "deposit_expansion",
                      "deposit_window", "balance_opens_at", "balance_closes_at",
                      "right_window")


def gate_config(sale: FlashSale, *, epoch: int | None = None) -> gate_ops.SaleGateConfig:
    return gate_ops.SaleGateConfig(
        sale_id=sale.pk, epoch=sale.gate_epoch if epoch is None else epoch,
        starts_ms=epoch_ms(sale.starts_at), ends_ms=epoch_ms(sale.ends_at),
        per_user_limit=sale.per_user_limit, requires_reservation=sale.needs_reservation,
        draw=sale.mode == SaleMode.DRAW,
    )


def gate_holders(sale: FlashSale) -> gate_ops.Holders:
    """Reservers, F-codes and draw rights of a sale as the database records them."""
    reservers = list(Reservation.objects.filter(sale=sale).values_list("user_id", flat=True))
    return gate_ops.Holders.of(codes=FCode.objects.filter(sale=sale, lapsed_at__isnull=True),
                               reservers=reservers)


def _validate(fields: dict) -> None:
    starts, ends = fields.get("starts_at"), fields.get("ends_at")
    if starts and ends and ends <= starts:
        raise invalid("A sale must end after it starts.", ends_at=["must be after starts_at"])
    if fields.get("mode") == SaleMode.DEPOSIT and not fields.get("deposit"):
        raise invalid("A deposit pre-sale needs a deposit.", deposit=["required for deposit"])
    deposit, price = fields.get("deposit"), fields.get("price")
    if deposit and price and deposit + (fields.get("deposit_expansion") or 0) >= price:
        raise invalid("The deposit (with its expansion) must be less than the price.",
                      deposit=["must be < price"])
    if fields.get("mode") == SaleMode.DEPOSIT and not (
            fields.get("balance_opens_at") and fields.get("balance_closes_at")):
        raise invalid("A deposit pre-sale needs its balance window.",
                      balance_opens_at=["required for deposit"])
    opens, closes = fields.get("balance_opens_at"), fields.get("balance_closes_at")
    if opens and closes and closes <= opens:
        raise invalid("The balance window must close after it opens.",
                      balance_closes_at=["must be after balance_opens_at"])
    if fields.get("mode") == SaleMode.DEPOSIT:
        _validate_balance_window(fields)
    r_opens, r_closes = fields.get("reservation_opens_at"), fields.get("reservation_closes_at")
    if (fields.get("mode") in (SaleMode.RESERVATION, SaleMode.DRAW)
            or fields.get("requires_reservation")) and not (r_opens and r_closes):
        raise invalid("This sale needs a reservation window.",
                      reservation_opens_at=["required when reservations are required"])
    if r_opens and r_closes and r_closes <= r_opens:
        raise invalid("The reservation window must close after it opens.",
                      reservation_closes_at=["must be after reservation_opens_at"])
    stock, quota = fields.get("stock"), fields.get("fcode_quota") or 0
    if stock is not None and quota > stock:
        raise invalid("The F-code quota is part of the stock.", fcode_quota=["must be <= stock"])


def _validate_balance_window(fields: dict) -> None:
    """A buyer who pays the deposit on time must be able to pay the balance: the window opens
    no earlier than the sale and closes after the latest deposit deadline (an order made at
    the sale's end, plus the deposit window). Otherwise the deposit is taken and forfeited."""
    starts, ends = fields.get("starts_at"), fields.get("ends_at")
    opens, closes = fields.get("balance_opens_at"), fields.get("balance_closes_at")
    window = fields.get("deposit_window") or FlashSale._meta.get_field("deposit_window").default
    if starts and opens and opens < starts:
        raise invalid("The balance window cannot open before the sale starts.",
                      balance_opens_at=[f"must be at or after starts_at ({starts.isoformat()})"])
    if ends and closes and closes <= ends + window:
        latest = (ends + window).isoformat()
        raise invalid("The balance window must close after the last deposit is due (the sale's "
                      "end plus the deposit window).",
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
    _validate({**{f: getattr(sale, f) for f in ("starts_at", "ends_at", "mode", "price",
                                                 "deposit_window")}, **fields})


def sale_create(**fields) -> FlashSale:
    """Schedule a sale; its gate is loaded by `gates_preload` shortly before it opens."""
    if fields.get("mode") == SaleMode.DRAW:
        fields["fcode_quota"] = fields.get("stock", 0)  # every unit goes to a winner's right
    _validate(fields)
    sale = FlashSale.objects.create(**fields)
    # A database reset can hand out this id again while Redis still holds a gate (and risk
    # counters) for it.
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
        transaction.on_commit(partial(gate_load, sale_id=sale.pk), robust=True)


def sale_update(*, sale_id: int, **changes) -> FlashSale:
    """Edit a sale. Once its gate is loaded only the title, the end and the stock may change,
    and stock through the gate so that Redis and the database move together."""
    with transaction.atomic():
        sale = sale_locked(sale_id)
        merged = {f: changes.get(f, getattr(sale, f)) for f in
                  ("starts_at", "ends_at", "mode", "deposit", "price", "deposit_expansion",
                   "balance_opens_at", "balance_closes_at", "reservation_opens_at",
                   "reservation_closes_at", "requires_reservation", "stock", "fcode_quota",
                   "deposit_window")}
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


def blacklist_mirror_ensure() -> None:
    """The gate refuses to sell while the blacklist mirror is missing: build it if so."""
    if not mirror.mirror_ready():
        mirror.mirror_rebuild()


def gate_load(*, sale_id: int) -> bool:
    """Load a sale's stock into the gate, once. A gate that was loaded before and has since
    vanished is not reloaded here (that would resell sold units): it needs `gate_rebuild`."""
    blacklist_mirror_ensure()
    with transaction.atomic():
        sale = FlashSale.objects.select_for_update().get(pk=sale_id)
        if sale.gate_loaded_at is not None:
            return False
        gate_ops.incarnation_check(sale_id=sale.pk, incarnation=epoch_ms(sale.created_at))
        gate_ops.load(config=gate_config(sale), stock=sale.open_stock,
                  fcode_stock=sale.fcode_quota, holders=gate_holders(sale))
        gate_ops.incarnation_mark(sale_id=sale.pk, incarnation=epoch_ms(sale.created_at))
        sale.gate_loaded_at = timezone.now()
        sale.save(update_fields=["gate_loaded_at"])
    return True


def gates_preload(*, now: datetime | None = None) -> list[int]:
    """Load every sale opening within GATE_PRELOAD_LEAD that is not loaded yet (Celery beat)."""
    now = now or timezone.now()
    due = FlashSale.objects.filter(
        gate_loaded_at__isnull=True, ends_at__gt=now,
        starts_at__lte=now + timedelta(seconds=settings.GATE_PRELOAD_LEAD_SECONDS),
    ).values_list("pk", flat=True)
    return [sale_id for sale_id in due if gate_load(sale_id=sale_id)]


@dataclass(frozen=True)
class HeldUnits:
    total: int
    by_user: dict[int, int]
    through_fcodes: int = 0

    @property
    def open(self) -> int:
        return self.total - self.through_fcodes


def units_held(*, sale_id: int) -> HeldUnits:
    """Units of a sale held by orders in the database (the record), and how many of them
    came through F-codes or draw rights."""
    lines = OrderLine.objects.filter(order__sale_id=sale_id, order__status__in=HOLDING)
    rows = lines.values("order__user_id").annotate(units=Sum("quantity"))
    by_user = {row["order__user_id"]: row["units"] for row in rows}
    fcoded = lines.filter(order__fcode__isnull=False).aggregate(u=Sum("quantity"))["u"] or 0
    return HeldUnits(total=sum(by_user.values()), by_user=by_user, through_fcodes=fcoded)


def units_taken_by_user(*, sale_id: int) -> dict[int, int]:
    """Units each account took in the sale by the database's count (`SaleBuyer`): an order
    cancelled but not yet returned still counts, exactly as in `FlashSale.units_taken`, so its
    later release cannot be counted twice."""
    return dict(SaleBuyer.objects.filter(sale_id=sale_id, units_taken__gt=0)
                .values_list("user_id", "units_taken"))


def tickets_decided(*, tickets: list[str]) -> list[str]:
    """Which of these tickets the database already settled (an order or a rejection)."""
    decided: list[str] = []
    for start in range(0, len(tickets), 5000):
        chunk = tickets[start:start + 5000]
        decided += Order.objects.filter(ticket__in=chunk).values_list("ticket", flat=True)
        decided += RejectedTicket.objects.filter(ticket__in=chunk).values_list("ticket",
                                                                             flat=True)
    return decided


def returned_tokens(*, sale_id: int) -> list[str]:
    """The release tokens the database records for a sale: orders that gave their units back
    and tickets rejected after admission (those of a lost gate never held a counted unit)."""
    orders = StockReturn.objects.filter(sale_id=sale_id).values_list("order_id", flat=True)
    tickets = (RejectedTicket.objects.filter(sale_id=sale_id).exclude(reason__in=NEVER_COUNTED)
               .values_list("ticket", flat=True))
    return [f"o:{pk}" for pk in orders] + [f"t:{ticket}" for ticket in tickets]


def gate_rebuild(*, sale_id: int) -> tuple[int, int]:
    """Rebuild a sale's gate from the database.

    If the gate's keys were lost (Redis flushed or empty), a new epoch starts: tickets a
    worker still holds from the lost gate are rejected (`gate_rebuilt`), not written. If Redis
    holds another dataset than the gate was loaded on (restarted from an older snapshot or an
    AOF, a lagging replica promoted, a backup restored), the epoch stays: the tickets still in
    its queue are real admissions and keep their units, and whatever a stale worker writes on
    top is bounded by the pipeline's guard. Either way tickets Redis forgot resolve as
    `gate_lost` (`ticket_resolve`). Drift on a trusted gate keeps the epoch too."""
    blacklist_mirror_ensure()
    with transaction.atomic():
        sale = FlashSale.objects.select_for_update().get(pk=sale_id)
        wiped = gate_ops.incarnation_check(sale_id=sale_id, incarnation=epoch_ms(sale.created_at))
        state = gate.state(sale_id=sale_id)
        if wiped or not state.loaded:
            sale.gate_epoch += 1
        if wiped or not state.trusted:
            sale.gate_rebuilt_at = timezone.now()
        sale.gate_loaded_at = sale.gate_loaded_at or timezone.now()
        sale.save(update_fields=["gate_epoch", "gate_rebuilt_at", "gate_loaded_at"])
        # Under the row lock no batch can commit, so the counters, the per-user counts and the
        # settled tickets agree. Tokens are read after them: a release committed in between
        # is then both free here and marked done, never counted twice.
        by_user = units_taken_by_user(sale_id=sale_id)
        returned = returned_tokens(sale_id=sale_id)
        decided = tickets_decided(tickets=gate_ops.queued_tickets(sale_id=sale_id))
        left, queued = gate_ops.rebuild(
            config=gate_config(sale), stock=sale.open_stock,
            held=sale.units_taken - sale.fcode_units_taken, fcode_stock=sale.fcode_quota,
            fcode_held=sale.fcode_units_taken, held_by_user=by_user, returned=returned,
            decided=decided, holders=gate_holders(sale),
        )
        gate_ops.incarnation_mark(sale_id=sale_id, incarnation=epoch_ms(sale.created_at))
    logger.warning("gate of sale %s rebuilt: %s left, %s queued, epoch %s",
                   sale_id, left, queued, sale.gate_epoch)
    return left, queued


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
        FlashSale.objects.select_for_update().filter(pk=sale_id).first()
        if Order.objects.filter(ticket=ticket).exists():
            return selectors.ticket_status(ticket=ticket, user_id=user_id)
        RejectedTicket.objects.get_or_create(
            ticket=ticket, defaults={"sale_id": sale_id, "user_id": user_id, "quantity": 0,
                                     "reason": "gate_lost"})
    return selectors.ticket_status(ticket=ticket, user_id=user_id)


def purchase_admit(*, sale_id: int, user_id: int, quantity: int = 1,
                   address_id: int | None = None, idempotency_key: str | None = None,
                   device: str = "", ip: str = "", fcode: str | None = None,
                   client: str = "{}", now: datetime | None = None) -> gate.Admission:
    """The hot path: one Redis call, no SQL. Everything is decided by the gate's script,
    F-codes included (only their HMAC travels). Only when the gate cannot answer does the
    database say why, if it knows better (no such sale, not started, ended)."""
    now_ms = epoch_ms(now or timezone.now())
    try:
        return gate.admit(sale_id=sale_id, user_id=user_id, quantity=quantity, now_ms=now_ms,
                          idempotency_key=idempotency_key, device=device, ip=ip,
                          address_id=address_id, fcode_hash=code_hash(fcode) if fcode else "",
                          client=client)
    except DomainError as refusal:
        if refusal.code == "unavailable" and "outcome" not in refusal.details:
            gate_unavailable_explain(sale_id=sale_id)
        raise


def units_give_back(*, sale_id: int, user_id: int, units: int, through_fcode: bool) -> None:
    """The database's side of a StockReturn, in its transaction: the guard's counters give
    the units back (never below zero: orders written before the counters existed are not
    held against them). The sale's row first, then the buyer's: the order batches take."""
    FlashSale.objects.filter(pk=sale_id).update(
        units_taken=Greatest(F("units_taken") - units, 0),
        fcode_units_taken=Greatest(F("fcode_units_taken") - (units if through_fcode else 0), 0))
    SaleBuyer.objects.filter(sale_id=sale_id, user_id=user_id).update(
        units_taken=Greatest(F("units_taken") - units, 0))


def stock_release(*, order_id: int, reason: str) -> bool:
    """Return a non-holding sale order's units to the gate, exactly once."""
    order = Order.objects.filter(pk=order_id, status__in=NOT_HOLDING,
                                 sale_id__isnull=False).first()
    if order is None:
        return False
    units = order.lines.aggregate(units=Sum("quantity"))["units"] or 0
    through_fcode = FCode.objects.filter(order_id=order.pk).exists()
    try:
        with transaction.atomic():
            StockReturn.objects.create(order=order, sale_id=order.sale_id, quantity=units,
                                       reason=reason)
            units_give_back(sale_id=order.sale_id, user_id=order.user_id, units=units,
                            through_fcode=through_fcode)
            transaction.on_commit(lambda: gate_ops.release(
                sale_id=order.sale_id, user_id=order.user_id, units=units,
                token=f"o:{order.pk}", fcode=through_fcode))
    except IntegrityError:
        return False  # someone returned it first
    return True


def sale_order_expire(*, order_id: int, now: datetime | None = None) -> bool:
    """Expire an unpaid sale order past its deadline and give its units back, once."""
    with transaction.atomic():
        if not shop_services.order_expire(order_id=order_id, now=now):
            return False
        stock_release(order_id=order_id, reason="expired")
    return True


def orders_expire_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Sweep: expire due sale orders, and return units of sale orders that stopped holding
    them by other paths (customer cancel, refund, forfeit). Safe to run concurrently."""
    now = now or timezone.now()
    due = Order.objects.filter(
        sale_id__isnull=False, status__in=[S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT],
        payment_due_at__lt=now,
    ).values_list("pk", flat=True)[:limit]
    expired = sum(1 for order_id in due if sale_order_expire(order_id=order_id, now=now))
    due_balance = Order.objects.filter(
        sale_id__isnull=False, status=S.AWAITING_BALANCE, payment_due_at__lt=now,
    ).values_list("pk", flat=True)[:limit]
    for order_id in due_balance:
        with transaction.atomic():
            if shop_services.order_forfeit(order_id=order_id, now=now):
                stock_release(order_id=order_id, reason="forfeited")
    unreturned = Order.objects.filter(
        Q(sale_id__isnull=False), status__in=NOT_HOLDING, stock_return__isnull=True,
    ).values_list("pk", "status")[:limit]
    for order_id, status in unreturned:
        stock_release(order_id=order_id, reason=status)
    returns_replay(since=now - timedelta(minutes=10))
    return expired


def returns_replay(*, since: datetime) -> int:
    """Release again what was returned lately: a release lost between the database's commit
    and Redis (a crash, a blip) is applied now; one already applied adds nothing."""
    replayed = 0
    for ret in StockReturn.objects.filter(created_at__gte=since).select_related("order"):
        through_fcode = FCode.objects.filter(order_id=ret.order_id).exists()
        replayed += gate_ops.release(sale_id=ret.sale_id, user_id=ret.order.user_id,
                                 units=ret.quantity, token=f"o:{ret.order_id}",
                                 fcode=through_fcode)
    return replayed


def gate_unavailable_explain(*, sale_id: int, now: datetime | None = None) -> None:
    """Off the hot path: when the gate has no answer, say why if the record knows better."""
    sale = FlashSale.objects.filter(pk=sale_id).first()
    if sale is None:
        raise not_found("sale")
    now = now or timezone.now()
    if now < sale.starts_at:
        raise DomainError("not_started", gate.REFUSALS["not_started"],
                          details={"starts_at": sale.starts_at.isoformat()})
    if now >= sale.ends_at:
        raise DomainError("ended", gate.REFUSALS["ended"],
                          details={"ends_at": sale.ends_at.isoformat()})


def orders_cancel_for_risk(*, sale_id: int, user_ids: list[int],
                           tickets: list[str] | None = None) -> int:
    """Cancel the unshipped orders of accounts the risk engine blocked after admission: unpaid
    ones are cancelled, paid ones refunded through the gateway; units go back to the gate."""
    cancelled = 0
    orders = Order.objects.filter(sale_id=sale_id, user_id__in=user_ids,
                                  status__in=[S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT,
                                              S.AWAITING_BALANCE, S.PAID])
    if tickets is not None:
        orders = orders.filter(ticket__in=tickets)
    for order_id, status in orders.values_list("pk", "status"):
        with transaction.atomic():
            if status == S.PAID:
                done = order_refund(order_id=order_id)
            else:
                done = shop_services.order_transition(order_id=order_id, to=S.CANCELLED,
                                                      expected=[status])
                if done and status == S.AWAITING_BALANCE:
                    payments_refund(order_id=order_id)  # the deposit: not a forfeit
            if done:
                stock_release(order_id=order_id, reason="risk")
                cancelled += 1
    return cancelled
