"""Flash sales and the records that make the gate's stock auditable.

The database is the record; Redis is the gate. Each bucket of a sale's gate has an epoch
(`FlashSale.bucket_epoch`) that moves when that bucket is rebuilt after its keys were lost, and
the pipeline refuses tickets admitted under an older one, so a gate rebuilt after a Redis loss
can never add to what a stale worker is still writing, and buckets that lost nothing keep
their queued buyers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.errors import not_found
from core.names import account_named, named
from shop.models import Order, OrderStatus, Sku

_S = OrderStatus
# Order states that hold a sale's units, and those that gave them back (or must).
HOLDING = (_S.AWAITING_PAYMENT, _S.AWAITING_DEPOSIT, _S.AWAITING_BALANCE, _S.PAID, _S.SHIPPED,
           _S.DELIVERED)
NOT_HOLDING = (_S.CANCELLED, _S.EXPIRED, _S.FORFEITED, _S.REFUNDED)


def _sale_of(record) -> str:
    """A record's sale by title when its query loaded the sale, else by number (core.names)."""
    return named(record, "sale", "title", f"sale {record.sale_id}")


def deposit_worth(deposit: Decimal, expansion: Decimal | None) -> Decimal:
    """The one rule of a deposit's worth at the balance: the deposit plus its expansion."""
    return deposit + (expansion or Decimal("0"))


class SaleMode(models.TextChoices):
    OPEN = "open", _("Open rush")
    RESERVATION = "reservation", _("Reservation required")
    DEPOSIT = "deposit", _("Deposit pre-sale")
    DRAW = "draw", _("Draw")


# The terms each mode uses beyond those every sale has (title, SKU, times, price, stock,
# limit, payment window): the admin's sale form shows only these for the mode chosen. A draw's
# F-code quota is its stock (every unit is a winner's right) and it always needs reservations.
MODE_TERMS: dict[str, tuple[str, ...]] = {
    SaleMode.OPEN: ("fcode_quota", "requires_reservation", "reservation_opens_at",
                    "reservation_closes_at"),
    SaleMode.RESERVATION: ("fcode_quota", "reservation_opens_at", "reservation_closes_at"),
    SaleMode.DEPOSIT: ("fcode_quota", "requires_reservation", "reservation_opens_at",
                       "reservation_closes_at", "deposit", "deposit_expansion",
                       "deposit_window", "balance_opens_at", "balance_closes_at"),
    SaleMode.DRAW: ("reservation_opens_at", "reservation_closes_at", "right_window"),
}


class SaleStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    LIVE = "live", _("Live")
    SOLD_OUT = "sold_out", _("Sold out")
    ENDED = "ended", _("Ended")


class FlashSale(models.Model):
    """A limited stock of one SKU at a price, on sale from `starts_at` to `ends_at`."""

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="flash_sales")
    title = models.CharField(_("title"), max_length=160)
    starts_at = models.DateTimeField(_("starts at"), db_index=True)
    ends_at = models.DateTimeField(_("ends at"))
    price = models.DecimalField(
        _("price"), max_digits=10, decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))]
    )
    stock = models.PositiveIntegerField()
    per_user_limit = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    payment_window = models.DurationField(default=timedelta(minutes=30))
    mode = models.CharField(_("mode"), max_length=12, choices=SaleMode.choices,
                            default=SaleMode.OPEN)
    requires_reservation = models.BooleanField(
        default=False, help_text="Only accounts that reserved may buy (always on for draws).")
    reservation_opens_at = models.DateTimeField(null=True, blank=True)
    reservation_closes_at = models.DateTimeField(null=True, blank=True)
    fcode_quota = models.PositiveIntegerField(
        default=0, help_text="Part of the stock kept for F-code holders (and draw winners).")
    deposit = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    deposit_expansion = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0"),
        help_text="Extra value a paid deposit counts for (a deposit of 100 counts as 150).")
    deposit_window = models.DurationField(default=timedelta(minutes=30))
    balance_opens_at = models.DateTimeField(null=True, blank=True)
    balance_closes_at = models.DateTimeField(null=True, blank=True)
    right_window = models.DurationField(
        default=timedelta(minutes=30), help_text="How long a draw winner's purchase right lasts.")
    # Buckets the gate splits the stock into, one per master of a Redis Cluster (a hot sale's
    # rush spread over several shards); fixed once the gate is loaded.
    shards = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(16)],
        help_text="Redis shards (buckets) the gate splits the stock across, 1 to 16.")
    gate_loaded_at = models.DateTimeField(_("gate loaded at"), null=True, blank=True,
                                          editable=False)
    # The latest epoch any bucket of the gate was given; `gate_bucket_epochs` lists each
    # bucket's own (empty: every bucket is at `gate_epoch`).
    gate_epoch = models.PositiveIntegerField(_("gate epoch"), default=0, editable=False)
    gate_bucket_epochs = models.JSONField(default=list, blank=True, editable=False)
    # When the epoch last moved (a gate lost, flushed or found on another Redis dataset):
    # a ticket issued before it that neither Redis nor the database knows was lost with Redis.
    gate_rebuilt_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The database's own stock counter, moved under the sale's row lock: units of orders the
    # pipeline wrote minus units given back (StockReturn). Never less than what orders hold,
    # so the pipeline refusing to pass `stock` here cannot oversell whatever Redis says.
    units_taken = models.PositiveIntegerField(default=0, editable=False)
    fcode_units_taken = models.PositiveIntegerField(default=0, editable=False)
    # Units sold by the textbook row-lock strategy only (PURCHASE_STRATEGY=row_lock, benchmarks).
    row_lock_sold = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        verbose_name, verbose_name_plural = _("flash sale"), _("flash sales")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")),
                                   name="sale_ends_after_it_starts"),
            models.CheckConstraint(condition=Q(price__gt=0), name="sale_price_positive"),
            models.CheckConstraint(condition=Q(per_user_limit__gte=1),
                                   name="sale_limit_at_least_one"),
            models.CheckConstraint(condition=Q(fcode_quota__lte=F("stock")),
                                   name="sale_fcode_quota_within_stock"),
            models.CheckConstraint(condition=Q(shards__gte=1, shards__lte=16),
                                   name="sale_shards_1_to_16"),
        ]

    def __str__(self) -> str:
        return self.title

    def bucket_epoch(self, bucket: int) -> int:
        """The epoch of one bucket of the gate: the pipeline writes only its tickets of it."""
        epochs = self.gate_bucket_epochs
        return epochs[bucket] if bucket < len(epochs) else self.gate_epoch

    def status_at(self, now: datetime, stock_left: int | None) -> str:
        """Derived from time and stock: scheduled, live, sold_out or ended."""
        if now < self.starts_at:
            return SaleStatus.SCHEDULED
        if now >= self.ends_at:
            return SaleStatus.ENDED
        if stock_left is not None and stock_left <= 0:
            return SaleStatus.SOLD_OUT
        return SaleStatus.LIVE

    @property
    def needs_reservation(self) -> bool:
        return self.requires_reservation or self.mode in (SaleMode.RESERVATION, SaleMode.DRAW)

    @property
    def open_stock(self) -> int:
        """Units for the open rush; the rest is the F-code (or draw) quota."""
        return self.stock - self.fcode_quota

    @property
    def deposit_counts(self) -> Decimal | None:
        """What a deposit pre-sale's deposit counts for at the balance: the deposit and its
        expansion (a deposit of 100 counting as 150); None without one."""
        return deposit_worth(self.deposit, self.deposit_expansion) if self.deposit else None

    @property
    def balance_per_unit(self) -> Decimal | None:
        """What a deposit pre-sale's buyer pays at the end for one unit: the price less what
        the deposit counts for; None without one."""
        counts = self.deposit_counts
        return None if counts is None else self.price - counts


class SaleBuyer(models.Model):
    """One account's units in one sale as the database counts them: units its orders took
    less units they gave back (`StockReturn`), moved in the same transactions. The pipeline's
    guard reads it for a batch's buyers with one indexed query, so the per-user limit holds
    whatever Redis says without summing every order of the sale per batch."""

    # No index of its own: the unique (sale, user_id) one leads with it (every batch writes
    # this table's indexes for a thousand buyers).
    sale = models.ForeignKey(FlashSale, on_delete=models.CASCADE, related_name="buyers",
                             db_index=False)
    user_id = models.PositiveBigIntegerField()
    units_taken = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sale", "user_id"],
                                               name="one_row_per_sale_and_buyer")]

    def __str__(self) -> str:
        return f"{account_named(self)} took {self.units_taken} of {_sale_of(self)}"


def sale_lock(sale_id: int) -> FlashSale:
    """The sale's row, locked until the transaction ends: the lock that pipeline batches,
    rebuilds and every other write on a sale's stock take, so they serialise. For a sale
    known to exist (a task's, a rebuild's): FlashSale.DoesNotExist otherwise."""
    return FlashSale.objects.select_for_update().get(pk=sale_id)


def sale_locked(sale_id: int) -> FlashSale:
    """`sale_lock` for a sale a request names: `not_found` when there is no such sale."""
    try:
        return sale_lock(sale_id)
    except FlashSale.DoesNotExist:
        raise not_found("sale") from None


class Reservation(models.Model):
    """An account's reservation (预约) for a sale; in a draw it is the account's entry."""

    sale = models.ForeignKey(FlashSale, on_delete=models.CASCADE, related_name="reservations",
                             verbose_name=_("sale"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="reservations", verbose_name=_("user"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name, verbose_name_plural = _("reservation"), _("reservations")
        constraints = [models.UniqueConstraint(fields=["sale", "user"],
                                               name="one_reservation_per_account")]

    def __str__(self) -> str:
        return f"{account_named(self)} reserved {_sale_of(self)}"


class StockReturn(models.Model):
    """A unit given back to the gate by an order that stopped holding it.

    One row per order (unique), inserted in the same transaction as the decision, so the
    gate's counter is incremented exactly once per returned order.
    """

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="stock_return",
                                 verbose_name=_("order"))
    sale = models.ForeignKey(FlashSale, on_delete=models.PROTECT, related_name="stock_returns",
                             verbose_name=_("sale"))
    quantity = models.PositiveIntegerField(_("quantity"))
    reason = models.CharField(_("reason"), max_length=20)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name, verbose_name_plural = _("stock return"), _("stock returns")

    def __str__(self) -> str:
        order = named(self, "order", "number", str(self.order_id))
        return f"{self.quantity} back to {_sale_of(self)} from order {order}"


class RejectedTicket(models.Model):
    """A ticket the pipeline turned down after admission (its stock went back to the gate)."""

    ticket = models.CharField(_("ticket"), max_length=64, unique=True)
    sale = models.ForeignKey(FlashSale, on_delete=models.PROTECT, related_name="rejected_tickets",
                             verbose_name=_("sale"))
    user_id = models.PositiveBigIntegerField(_("user id"))
    quantity = models.PositiveIntegerField(_("quantity"))
    reason = models.CharField(_("reason"), max_length=40)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name, verbose_name_plural = _("rejected ticket"), _("rejected tickets")

    def __str__(self) -> str:
        return f"{self.ticket} of {account_named(self)} rejected: {self.reason}"


class FCode(models.Model):
    """A priority purchase code (F码) or a draw winner's purchase right, for one unit.

    Only an HMAC of the code is stored: a leaked table reveals no usable code. A right
    (kind=right) has a code nobody types: the gate finds it through the winner's account.
    """

    class Kind(models.TextChoices):
        FCODE = "fcode", _("F-code")
        RIGHT = "right", _("Draw purchase right")

    sale = models.ForeignKey(FlashSale, on_delete=models.CASCADE, related_name="fcodes",
                             verbose_name=_("sale"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="fcodes", verbose_name=_("user"))
    kind = models.CharField(_("kind"), max_length=5, choices=Kind.choices, default=Kind.FCODE)
    code_hash = models.CharField(_("code hash"), max_length=64, unique=True)
    hint = models.CharField(_("hint"), max_length=9,
                            help_text=_("The code's last group, for support calls."))
    issued_at = models.DateTimeField(_("issued at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    order = models.OneToOneField(Order, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="fcode", verbose_name=_("order"))
    lapsed_at = models.DateTimeField(_("lapsed at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name, verbose_name_plural = _("F-code"), _("F-codes")
        constraints = [models.UniqueConstraint(fields=["sale", "user", "kind"],
                                               name="one_code_per_account_and_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ...{self.hint} for {account_named(self)}"


class Draw(models.Model):
    """A draw's run: the recorded seed and entries make it reproducible, so ops can show it
    was fair (`sales.modes.draws.draw_winners` with the same inputs gives the same winners)."""

    sale = models.OneToOneField(FlashSale, on_delete=models.PROTECT, related_name="draw",
                                verbose_name=_("sale"))
    seed = models.CharField(_("seed"), max_length=64)
    entries = models.JSONField(
        _("entries"), help_text=_("[[reservation id, user id, fan level], ...] in order"))
    winners = models.JSONField(pgettext_lazy("their user ids", "winners"),
                               help_text=_("user ids in the order they were drawn"))
    waitlist = models.JSONField(
        _("waitlist"), help_text=_("the other entrants' user ids, in reservation order"))
    run_at = models.DateTimeField(_("run at"), auto_now_add=True)
    run_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                               blank=True, related_name="+", verbose_name=_("run by"))

    class Meta:
        verbose_name, verbose_name_plural = _("draw"), _("draws")

    def __str__(self) -> str:
        return f"draw of {_sale_of(self)} ({len(self.winners)} winners)"


class Reminder(models.Model):
    """A shopper's "remind me" (开售提醒) for a sale that has not opened: one text a few
    minutes before it opens (`sales.reminders`). One per account and sale, however often the
    button is pressed.

    `claim`/`claimed_at` are a sender's lease on the row while it texts (another sender
    leaves it alone until the lease lapses: a sender killed mid-batch loses nothing);
    `sent_for` is the opening the text named, so a sale moved to another time is announced
    again, at its new time. A cancelled reminder keeps its row (`cancelled_at`): set again, it
    is the same reminder, already texted for this opening, so cancelling and setting again
    cannot text a phone once a tick (a stranger who registered with someone's number could
    otherwise have it texted every 30 seconds).
    """

    # No index of its own: the unique (sale, user) one leads with it.
    sale = models.ForeignKey(FlashSale, on_delete=models.CASCADE, related_name="reminders",
                             db_index=False, verbose_name=_("sale"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="sale_reminders", verbose_name=_("user"))
    # The storefront's language when it was set ("zh-hans", "en"); blank: not known, and the
    # text goes out in Chinese, the store's language.
    language = models.CharField(_("language"), max_length=8, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    claim = models.CharField(max_length=32, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    sent_for = models.DateTimeField(_("sent for"), null=True, blank=True,
                                    help_text=_("The opening time the text named."))
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name, verbose_name_plural = _("reminder"), _("reminders")
        constraints = [models.UniqueConstraint(fields=["sale", "user"],
                                               name="one_reminder_per_account_and_sale")]

    def __str__(self) -> str:
        return f"{account_named(self)} reminded of {_sale_of(self)}"
