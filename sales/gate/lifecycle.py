"""A sale's gate over its life: loading it before the sale opens, and rebuilding it from the
database's record after Redis lost or changed its data (or drifted from the record).

Loading happens once; a gate that vanished or came back different is never reloaded with the
full stock, only rebuilt from the record's counters, so it cannot sell units twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from antiscalper import mirror
from sales.gate import holdings
from sales.gate import ops as gate_ops
from sales.gate.keys import epoch_ms
from sales.models import (
    HOLDING,
    FCode,
    FlashSale,
    RejectedTicket,
    Reservation,
    SaleBuyer,
    SaleMode,
    StockReturn,
    sale_lock,
)
from shop.models import Order, OrderLine

logger = logging.getLogger("flashsale.sales")

# Rejections whose units were never counted by the gate that is live now (a lost or rebuilt
# gate's tickets): nothing of theirs goes back.
NEVER_COUNTED = ("gate_rebuilt", "gate_lost")


def gate_config(sale: FlashSale) -> gate_ops.SaleGateConfig:
    return gate_ops.SaleGateConfig(
        sale_id=sale.pk, epoch=sale.gate_epoch,
        epochs=tuple(sale.bucket_epoch(k) for k in range(sale.shards)),
        starts_ms=epoch_ms(sale.starts_at), ends_ms=epoch_ms(sale.ends_at),
        per_user_limit=sale.per_user_limit, requires_reservation=sale.needs_reservation,
        draw=sale.mode == SaleMode.DRAW, shards=sale.shards,
    )


def epochs_renew(sale: FlashSale, lost: list[int]) -> None:
    """Give the buckets whose keys were lost a new epoch (the sale's next one): tickets a
    worker still holds from them are then rejected (`gate_rebuilt`). The other buckets keep
    theirs, and so their queued buyers. All of them lost: one epoch for the whole gate."""
    if not lost:
        return
    epochs = [sale.bucket_epoch(k) for k in range(sale.shards)]
    sale.gate_epoch += 1
    for k in lost:
        epochs[k] = sale.gate_epoch
    sale.gate_bucket_epochs = [] if len(set(epochs)) == 1 else epochs


def gate_holders(sale: FlashSale) -> gate_ops.Holders:
    """Reservers, F-codes and draw rights of a sale as the database records them."""
    reservers = list(Reservation.objects.filter(sale=sale).values_list("user_id", flat=True))
    return gate_ops.Holders.of(codes=FCode.objects.filter(sale=sale, lapsed_at__isnull=True),
                               reservers=reservers)


def blacklist_mirror_ensure() -> None:
    """The gate refuses to sell while the blacklist mirror is missing: build it if so."""
    if not mirror.mirror_ready():
        mirror.mirror_rebuild()


def gate_load(*, sale_id: int) -> bool:
    """Load a sale's stock into the gate, once. A gate that was loaded before and has since
    vanished is not reloaded here (that would resell sold units): it needs `gate_rebuild`."""
    blacklist_mirror_ensure()
    with transaction.atomic():
        sale = sale_lock(sale_id)
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


def _epochs_commit(*, sale_id: int) -> set[int]:
    """The first step of a rebuild, committed on its own: wipe a gate another sale left, and
    give the buckets whose keys are lost their new epoch. Returns those buckets.

    Committed before any key is rewritten, so that a rebuild cut by a Redis error half way
    cannot leave a bucket selling under an epoch the database rolled back (its buyers would
    then be rejected, and a stale worker's tickets of the lost epoch accepted again)."""
    with transaction.atomic():
        sale = sale_lock(sale_id)
        wiped = gate_ops.incarnation_check(sale_id=sale_id, incarnation=epoch_ms(sale.created_at))
        parts = holdings.bucket_states(sale_id=sale_id, shards=sale.shards)
        lost = [k for k, part in enumerate(parts) if wiped or not part.loaded]
        epochs_renew(sale, lost)
        if wiped or not all(part.trusted for part in parts):
            sale.gate_rebuilt_at = timezone.now()
        sale.gate_loaded_at = sale.gate_loaded_at or timezone.now()
        sale.save(update_fields=["gate_epoch", "gate_bucket_epochs", "gate_rebuilt_at",
                                 "gate_loaded_at"])
    return set(lost)


def gate_rebuild(*, sale_id: int) -> tuple[int, int]:
    """Rebuild a sale's gate from the database.

    If a bucket's keys were lost (Redis flushed or empty, one master of a cluster restarted
    empty), a new epoch starts for that bucket: tickets a worker still holds from it are
    rejected (`gate_rebuilt`), not written, while the tickets queued in the buckets that lost
    nothing are still written (`epochs_renew`, committed first: `_epochs_commit`). If Redis
    holds another dataset than the gate was loaded on (restarted from an older snapshot or an
    AOF, a lagging replica promoted, a backup restored), the epoch stays: the tickets still in
    its queue are real admissions and keep their units, and whatever a stale worker writes on
    top is bounded by the pipeline's guard. Either way tickets Redis forgot resolve as
    `gate_lost` (`ticket_resolve`). Drift on a trusted gate keeps the epoch too."""
    blacklist_mirror_ensure()
    renewed = _epochs_commit(sale_id=sale_id)
    with transaction.atomic():
        sale = sale_lock(sale_id)
        # A bucket that lost its keys since the first step (it sold under its old epoch in
        # between) gets its new epoch here.
        parts = holdings.bucket_states(sale_id=sale_id, shards=sale.shards)
        since = [k for k, part in enumerate(parts) if not part.loaded and k not in renewed]
        if since:
            epochs_renew(sale, since)
            sale.gate_rebuilt_at = timezone.now()
            sale.save(update_fields=["gate_epoch", "gate_bucket_epochs", "gate_rebuilt_at"])
        # Under the row lock no batch can commit, so the counters, the per-user counts and the
        # settled tickets agree. Tokens are read after them: a release committed in between
        # is then both free here and marked done, never counted twice.
        by_user = units_taken_by_user(sale_id=sale_id)
        returned = returned_tokens(sale_id=sale_id)
        decided = tickets_decided(tickets=gate_ops.queued_tickets(sale_id=sale_id,
                                                                  shards=sale.shards))
        left, queued = gate_ops.rebuild(
            config=gate_config(sale), stock=sale.open_stock,
            held=sale.units_taken - sale.fcode_units_taken, fcode_stock=sale.fcode_quota,
            fcode_held=sale.fcode_units_taken, held_by_user=by_user, returned=returned,
            decided=decided, holders=gate_holders(sale),
        )
        gate_ops.incarnation_mark(sale_id=sale_id, incarnation=epoch_ms(sale.created_at))
    logger.warning("gate of sale %s rebuilt: %s left, %s queued, epochs %s",
                   sale_id, left, queued, list(gate_config(sale).epochs))
    return left, queued
