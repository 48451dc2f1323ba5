"""Reads of sales and tickets: stock from the gate when it is loaded, else from the record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db.models import Case, Count, F, Q, QuerySet, Value, When
from django.utils import timezone

from core.errors import DomainError, ErrorCode, not_found
from sales.gate import holdings
from sales.gate import keys as gate_keys
from sales.gate.keys import SaleKeys, epoch_ms, sale_id_of_ticket, ticket_issued_ms
from sales.models import (
    Draw,
    FCode,
    FlashSale,
    RejectedTicket,
    Reminder,
    Reservation,
    SaleMode,
)
from shop.models import Order


def sales_recently_loaded(*, now: datetime | None = None) -> list[int]:
    """Ids of the sales the background work looks after: gate loaded, and not ended more than
    an hour ago (the pipeline, the signals, linking, reconciliation, the gate's watch)."""
    recent = (now or timezone.now()) - timedelta(hours=1)
    return list(FlashSale.objects.filter(gate_loaded_at__isnull=False, ends_at__gt=recent)
                .values_list("pk", flat=True))


def sales_linking_due(*, now: datetime | None = None) -> list[int]:
    """Ids of the sales linking looks after: those the background work looks after, and
    those taking (or done taking) reservations before they open, so a ring tied at
    reservation is decided before T0."""
    now = now or timezone.now()
    recent = now - timedelta(hours=1)
    return list(FlashSale.objects.filter(
        Q(gate_loaded_at__isnull=False) | Q(reservation_opens_at__lte=now),
        ends_at__gt=recent).order_by("pk").values_list("pk", flat=True))


def sale_list() -> QuerySet[FlashSale]:
    return FlashSale.objects.select_related("sku__product").order_by("starts_at", "id")


def sale_list_current_first(*, now: datetime | None = None) -> QuerySet[FlashSale]:
    """Sales for shoppers: the live and upcoming ones first (soonest first), then the ended
    ones (latest first). Oldest-first with a cap hid a live sale behind 200 past ones."""
    now = now or timezone.now()
    return FlashSale.objects.select_related("sku").annotate(
        ended=Case(When(ends_at__gt=now, then=Value(0)), default=Value(1)),
        current_start=Case(When(ends_at__gt=now, then=F("starts_at")), default=None),
    ).order_by("ended", F("current_start").asc(nulls_last=True), F("ends_at").desc(), "id")


def sale_list_current(*, now: datetime | None = None) -> QuerySet[FlashSale]:
    """The sales that have not ended yet, soonest first."""
    now = now or timezone.now()
    return sale_list().filter(ends_at__gt=now)


def sale_list_ended(*, now: datetime | None = None) -> QuerySet[FlashSale]:
    """The sales that have ended, latest first."""
    now = now or timezone.now()
    return FlashSale.objects.select_related("sku").filter(ends_at__lte=now).order_by(
        "-ends_at", "-id")


def sale_get(*, sale_id: int) -> FlashSale:
    sale = sale_list().filter(pk=sale_id).first()
    if sale is None:
        raise not_found("sale")
    return sale


def stock_left_map(sales: list[FlashSale]) -> dict[int, int]:
    """Units left per sale (open rush plus F-code quota): one MGET for the loaded gates; the
    full stock for unloaded ones."""
    loaded = [s for s in sales if s.gate_loaded_at]
    keys = [[key for b in gate_keys.bucket_keys(s.pk, s.shards) for key in (b.stock, b.fstock)]
            for s in loaded]
    flat = [key for sale_keys in keys for key in sale_keys]
    client = gate_keys.connection()
    values = iter((client.mget_nonatomic(flat) if gate_keys.clustered() else client.mget(flat))
                  if flat else [])
    left = {s.pk: s.stock for s in sales if not s.gate_loaded_at}
    for sale, sale_keys in zip(loaded, keys, strict=True):
        # A loaded gate whose keys vanished sells nothing until rebuilt: show 0, not a guess.
        left[sale.pk] = sum(int(next(values) or 0) for _ in sale_keys)
    return left


def sale_rows(sales: list[FlashSale]) -> list[tuple[FlashSale, int, str]]:
    """(sale, stock left, status) for the representation of docs/api.md."""
    now = timezone.now()
    left = stock_left_map(sales)
    return [(s, left[s.pk], s.status_at(now, left[s.pk])) for s in sales]


@dataclass(frozen=True)
class SaleBuckets:
    """A sale's buckets (`FlashSale.shards`) as the gate holds them, for the report and the
    dashboard; `error` says why they could not be read (then `rows` is empty)."""

    shards: int
    stock: int
    loaded: bool
    rows: list[holdings.BucketHolding] = field(default_factory=list)
    error: str = ""
    consistent: bool = True     # the rows are one moment's (`holdings.buckets`)

    @property
    def readable(self) -> bool:
        return not self.error

    def total(self, figure: str) -> int:
        return sum(getattr(row, figure) or 0 for row in self.rows)

    @property
    def unaccounted(self) -> int | None:
        """Units of the stock no bucket counts as left, taken or in transit (0 while the gate
        is whole); None when that cannot be said: a move or a rebuild kept landing between
        the reads of two buckets, or a bucket's keys are lost."""
        if not self.rows or not self.consistent or not all(row.loaded for row in self.rows):
            return None
        return self.stock - sum(self.total(f) for f in ("stock_left", "taken", "in_transit"))

    @property
    def stuck(self) -> list[int]:
        """Buckets with a move that lost its caller (reconciliation gives it)."""
        return [row.bucket for row in self.rows if row.stuck]

    def as_dict(self) -> dict:
        return {"shards": self.shards, "readable": self.readable, "error": self.error or None,
                "unaccounted": self.unaccounted, "stuck": self.stuck,
                "buckets": [{**asdict(row), "stuck": row.stuck} for row in self.rows]}


def sale_buckets(*, sale: FlashSale) -> SaleBuckets:
    """Each bucket of a sale: its master, stock left, units taken, tickets, moves in, out and
    in transit. A sale whose gate is not loaded has no buckets yet; Redis unreachable is
    said, not raised (the dashboard still renders)."""
    found = SaleBuckets(shards=sale.shards, stock=sale.stock, loaded=bool(sale.gate_loaded_at))
    if not sale.gate_loaded_at:
        return found
    try:
        rows, consistent = holdings.buckets(sale_id=sale.pk, shards=sale.shards)
    except redis.RedisError as error:
        return SaleBuckets(shards=sale.shards, stock=sale.stock, loaded=True,
                           error=f"the gate's Redis cannot be read now ({type(error).__name__})")
    return SaleBuckets(shards=sale.shards, stock=sale.stock, loaded=True, rows=rows,
                       consistent=consistent)


@dataclass(frozen=True)
class TicketStatus:
    ticket: str
    status: str
    position: int | None = None
    order: int | None = None
    reason: str | None = None


def ticket_status(*, ticket: str, user_id: int) -> TicketStatus:
    """Where a ticket stands; another user's ticket is indistinguishable from none."""
    sale_id = sale_id_of_ticket(ticket)
    if sale_id is None:
        raise not_found("ticket")
    keys = SaleKeys(sale_id)
    pipe = gate_keys.connection().pipeline(transaction=False)
    pipe.hgetall(keys.ticket(ticket)).get(keys.processed).hget(keys.meta, "shards")
    data, processed, shards = pipe.execute()
    if shards and int(shards) > 1:  # a sale of buckets: the record is in the buyer's
        keys = gate_keys.bucket_keys(sale_id, int(shards))[gate_keys.bucket_of(user_id,
                                                                               int(shards))]
        pipe = gate_keys.connection().pipeline(transaction=False)
        pipe.hgetall(keys.ticket(ticket)).get(keys.processed)
        data, processed = pipe.execute()
    if data.get("user"):  # (a record rewritten after its TTL has no owner: ask the database)
        if int(data["user"]) != user_id:
            raise not_found("ticket")
        if data["status"] == "queued":
            position = max(int(data["seq"]) - int(processed or 0), 1)
            return TicketStatus(ticket=ticket, status="queued", position=position)
        if data["status"] == "confirmed":
            return TicketStatus(ticket=ticket, status="confirmed", order=int(data["order"]))
        return TicketStatus(ticket=ticket, status="rejected", reason=data.get("reason"))
    # The gate forgot it (expired or lost): the database still knows settled tickets.
    order_id = Order.objects.filter(ticket=ticket, user_id=user_id).values_list("pk", flat=True)
    if order_id:
        return TicketStatus(ticket=ticket, status="confirmed", order=order_id[0])
    reason = RejectedTicket.objects.filter(ticket=ticket, user_id=user_id).values_list(
        "reason", flat=True)
    if reason:
        return TicketStatus(ticket=ticket, status="rejected", reason=reason[0])
    raise not_found("ticket")


def ticket_lost(*, ticket: str, user_id: int, sale_id: int) -> bool:
    """Whether this account was really issued this ticket (its MAC checks) before the sale's
    gate was last rebuilt after Redis lost or changed its data. Asked only of tickets that
    neither Redis nor the database knows: Redis lost it with its queue entry."""
    issued = ticket_issued_ms(ticket, user_id=user_id)
    if issued is None:
        return False
    rebuilt = FlashSale.objects.filter(pk=sale_id).values_list("gate_rebuilt_at", flat=True)
    return bool(rebuilt and rebuilt[0] and issued < epoch_ms(rebuilt[0]))


def not_a_draw() -> DomainError:
    """The refusal of a draw's request (its result, running it) on a sale of another mode."""
    return DomainError(ErrorCode.WRONG_MODE, "Only a draw-mode sale has a draw.")


def draw_result(*, sale_id: int, user_id: int) -> dict:
    """Whether the draw ran, whether this account entered and holds a (live or used) right.
    Only a draw-mode sale has a draw: `wrong_mode` for any other."""
    sale = sale_get(sale_id=sale_id)
    if sale.mode != SaleMode.DRAW:
        raise not_a_draw()
    right = (FCode.objects.filter(sale=sale, user_id=user_id, kind=FCode.Kind.RIGHT)
             .order_by("-pk").first())
    return {
        "drawn": Draw.objects.filter(sale=sale).exists(),
        "entered": Reservation.objects.filter(sale=sale, user_id=user_id).exists(),
        "won": right is not None and right.lapsed_at is None,
        "right_expires_at": right.expires_at if right else None,
        "used": bool(right and right.order_id),
    }


# ---- "remind me" (sales.reminders) ---------------------------------------------------------

def reminded_sale_ids(*, user_id: int | None, sale_ids: list[int]) -> set[int]:
    """Which of these sales this shopper asked to be reminded of: one query for a whole list
    of cards (none for nobody)."""
    if not user_id or not sale_ids:
        return set()
    return set(Reminder.objects.filter(user_id=user_id, sale_id__in=sale_ids,
                                       cancelled_at__isnull=True)
               .values_list("sale_id", flat=True))


def reminder_of(*, sale_id: int, user_id: int) -> dict:
    """This shopper's reminder of a sale, as the API shows it: whether it is set, when the
    text goes out, when it went (`not_found` for no such sale). A text sent for an opening
    the sale has since left (it moved) is not this opening's: `sent_at` is null again, as
    the sender texts once more at the new time."""
    opens = FlashSale.objects.filter(pk=sale_id).values_list("starts_at", flat=True).first()
    if opens is None:
        raise not_found("sale")
    rows = Reminder.objects.filter(sale_id=sale_id, user_id=user_id,
                                   cancelled_at__isnull=True).values_list("sent_at", "sent_for")
    sent_at, sent_for = rows[0] if rows else (None, None)
    return {"sale": sale_id, "reminded": bool(rows),
            "remind_at": opens - timedelta(seconds=settings.REMINDER_LEAD_SECONDS),
            "sent_at": sent_at if sent_for == opens else None}


def reminder_counts(*, sale_id: int) -> dict[str, int]:
    """How many shoppers asked to be reminded of the sale (and did not cancel), and how many
    of them were texted."""
    return Reminder.objects.filter(sale_id=sale_id, cancelled_at__isnull=True).aggregate(
        set=Count("id"), sent=Count("id", filter=Q(sent_at__isnull=False)))
