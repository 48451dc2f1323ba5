"""The store's data: catalog, customers and addresses, orders and payments.

Invariants live here as database constraints (unique phone, one order per ticket, one
payment per user and idempotency key, non-negative money); state changes live in services.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.names import account_named, loaded, named


class Product(models.Model):
    """A thing we sell (Mi 6, Mi TV 4A, Mi Band 3): the catalog's page-level entry."""

    class Category(models.TextChoices):
        PHONE = "phone", "Phone"
        TV = "tv", "TV"
        WEARABLE = "wearable", "Wearable"
        POWER = "power", "Power bank"
        ACCESSORY = "accessory", "Accessory"

    name = models.CharField(_("name"), max_length=120, unique=True)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("is active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name, verbose_name_plural = _("product"), _("products")

    def __str__(self) -> str:
        return self.name


class Sku(models.Model):
    """A sellable variant with one price, the same on every channel (web, app)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="skus",
                                verbose_name=_("product"))
    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=160)
    price = models.DecimalField(
        _("price"), max_digits=10, decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))]
    )
    is_active = models.BooleanField(_("is active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name, verbose_name_plural = _("SKU"), _("SKUs")
        constraints = [models.CheckConstraint(condition=Q(price__gt=0), name="sku_price_positive")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class FanLevel(models.IntegerChoices):
    """Mi fan tiers; the honorary developer group ranks above Lv3."""

    LV0 = 0, "Lv0 newcomer"
    LV1 = 1, "Lv1 potential"
    LV2 = 2, "Lv2 senior"
    LV3 = 3, "Lv3 enthusiast"
    HONORARY = 4, "Honorary developer"


class Customer(models.Model):
    """A shopper's profile beside the auth user: phone, fan level, verification."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer",
        verbose_name=_("user"),
    )
    phone = models.CharField(_("phone"), max_length=20, unique=True)
    fan_level = models.PositiveSmallIntegerField(_("fan level"), choices=FanLevel.choices,
                                                 default=FanLevel.LV0)
    is_verified = models.BooleanField(_("is verified"), default=False)
    # When the registered phone was confirmed by a code sent to it (shop.phones), and the
    # number the code reached in its canonical form: a verified identity for the linking.
    phone_verified_at = models.DateTimeField(_("phone verified at"), null=True, blank=True)
    verified_phone = models.CharField(_("verified phone"), max_length=20, blank=True,
                                      db_index=True)
    joined_at = models.DateTimeField(_("joined at"))

    class Meta:
        verbose_name, verbose_name_plural = _("customer"), _("customers")
        permissions = [("export_customer", "Can export customers (CSV/XLSX)")]
        indexes = [models.Index(fields=["fan_level", "joined_at"])]

    def __str__(self) -> str:
        return f"{self.user.username} ({self.get_fan_level_display()})"


class PhoneCode(models.Model):
    """The code last sent to a customer's phone to confirm it: only its HMAC is kept, it
    lapses, it dies after a few tries, it confirms once (shop.phones)."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE,
                                    related_name="phone_code")
    phone = models.CharField(max_length=20)  # the number it was sent to
    digest = models.CharField(max_length=64)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    tries = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name, verbose_name_plural = _("phone code"), _("phone codes")

    def __str__(self) -> str:
        customer = loaded(self, "customer")
        who = account_named(customer) if customer else f"customer {self.customer_id}"
        return f"code for {who} sent {self.sent_at:%Y-%m-%d %H:%M}"


class Address(models.Model):
    """A delivery address: 省 province, 市 city, 区 district, then the street line.

    `normalized` is the form used to match one address across accounts, `building` the
    building it delivers to (`shop.addresses`: flat, floor and room dropped); both read the
    district with the street line and leave the province out (the city and postcode place it).

    A row's delivery text never changes once written (`shop.address_book`): an edit writes
    a new version and archives this one (`deleted_at`, `replaced_by`), so an order keeps the
    text it was placed with, even one still in the pipeline's queue, and the anti-scalper,
    which reads every version a customer held, still sees what a ring shared. `deleted_at`
    hides an address from the shopper and from new purchases, nothing else. One live address
    per customer is the default, by the database's own constraint."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses",
                                 verbose_name=_("customer"))
    recipient = models.CharField(_("recipient"), max_length=80)
    phone = models.CharField(_("phone"), max_length=20)
    province = models.CharField(_("province"), max_length=40, blank=True, default="")
    city = models.CharField(_("city"), max_length=80)
    district = models.CharField(_("district"), max_length=40, blank=True, default="")
    line1 = models.CharField(_("line1"), max_length=200)
    postcode = models.CharField(_("postcode"), max_length=12)
    normalized = models.CharField(_("normalized"), max_length=300, db_index=True,
                                  editable=False)
    building = models.CharField(_("building"), max_length=300, db_index=True, editable=False,
                                default="")
    is_default = models.BooleanField(_("is default"), default=False)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    # The newest version edits wrote in this one's place (None: live, or deleted as it was).
    # RESTRICT: a version an older one names never goes alone, only with the whole account.
    replaced_by = models.ForeignKey("self", on_delete=models.RESTRICT, null=True, blank=True,
                                    related_name="+", editable=False,
                                    verbose_name=_("replaced by"))
    # The Idempotency-Key the shopper's client sent with the POST that created it: a retry
    # of that POST answers this address instead of adding a second one.
    idempotency_key = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name, verbose_name_plural = _("address"), _("addresses")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=Q(is_default=True),
                                    name="address_one_default_per_customer"),
            models.CheckConstraint(condition=Q(deleted_at__isnull=True) | Q(is_default=False),
                                   name="address_deleted_never_default"),
            models.UniqueConstraint(fields=["customer", "idempotency_key"],
                                    condition=~Q(idempotency_key=""),
                                    name="address_one_per_idempotency_key"),
        ]

    def __str__(self) -> str:
        place = " ".join(part for part in (self.province, self.city, self.district) if part)
        return f"{self.recipient}, {self.line1}, {place} {self.postcode}"


class OrderStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
    AWAITING_DEPOSIT = "awaiting_deposit", _("Awaiting deposit")
    AWAITING_BALANCE = "awaiting_balance", _("Awaiting balance")
    PAID = "paid", _("Paid")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    FORFEITED = "forfeited", _("Forfeited")
    REFUNDED = "refunded", _("Refunded")


class Order(models.Model):
    """One purchase. Flash-sale orders carry the sale and the admission ticket they came from.

    `sale_id` is a plain column (not a foreign key) because shop sits below sales in the
    dependency order; `ticket` is unique so that a ticket can never become two orders.

    The pipeline writes thousands of these a second, and every index is written with each:
    the unique columns are constraints (on PostgreSQL a `unique=True` CharField also gets a
    `varchar_pattern_ops` copy for LIKE 'prefix%', which nothing here asks), and the buyer's
    orders are found by the (user, -created_at) index, not by one of their own.
    """

    number = models.CharField(_("number"), max_length=24)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders",
        db_index=False, verbose_name=_("user"),
    )
    address = models.ForeignKey(Address, on_delete=models.PROTECT, null=True, blank=True,
                                verbose_name=_("address"))
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    deposit = models.DecimalField(_("deposit"), max_digits=12, decimal_places=2,
                                  default=Decimal("0"))
    balance_due = models.DecimalField(_("balance due"), max_digits=12, decimal_places=2,
                                      default=Decimal("0"))
    payment_due_at = models.DateTimeField(_("payment due at"), null=True, blank=True,
                                          db_index=True)
    balance_opens_at = models.DateTimeField(_("balance opens at"), null=True, blank=True)
    balance_due_at = models.DateTimeField(_("balance due at"), null=True, blank=True)
    sale_id = models.PositiveBigIntegerField(_("sale id"), null=True, blank=True, db_index=True)
    # NULL, not "", for orders without a ticket: the unique constraint allows many NULLs.
    ticket = models.CharField(_("ticket"), max_length=64, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(_("created at"), db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = pgettext_lazy("the order model", "orders")
        permissions = [("export_order", "Can export orders (CSV/XLSX)")]
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="order_number_unique"),
            models.UniqueConstraint(fields=["ticket"], name="order_one_per_ticket"),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_non_negative"),
            models.CheckConstraint(condition=Q(deposit__gte=0), name="order_deposit_non_negative"),
            models.CheckConstraint(
                condition=Q(balance_due__gte=0), name="order_balance_non_negative"
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"]),
                   models.Index(fields=["status"], name="order_status")]

    def __str__(self) -> str:
        return f"Order {self.number} ({self.status})"


class OrderLine(models.Model):
    """A SKU and quantity at the price the order was placed at."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines",
                              verbose_name=_("order"))
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, verbose_name=_("sku"))
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(_("unit price"), max_digits=10, decimal_places=2)

    class Meta:
        verbose_name, verbose_name_plural = _("order line"), _("order lines")
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="orderline_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        sku = named(self, "sku", "code", f"sku {self.sku_id}")
        return f"{self.quantity} x {sku} @ {self.unit_price}"


class Payment(models.Model):
    """One charge attempt at the gateway; (user, idempotency_key) is unique: one key, one charge."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUNDED = "refunded", "Refunded"

    class Purpose(models.TextChoices):
        FULL = "full", "Full price"
        DEPOSIT = "deposit", "Deposit"
        BALANCE = "balance", "Balance"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments",
                              verbose_name=_("order"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             verbose_name=_("user"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=64)
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    method = models.CharField(pgettext_lazy("of a payment", "method"),
                              max_length=30, default="card")
    instrument = models.CharField(_("instrument"), max_length=64, blank=True)
    # The gateway's fingerprint of the instrument (shop.payments.instrument_fingerprint):
    # what the anti-scalper linking ties accounts by, never the string the client sent.
    fingerprint = models.CharField(_("fingerprint"), max_length=64, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.PENDING)
    gateway_ref = models.CharField(_("gateway ref"), max_length=64, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = pgettext_lazy("a charge of an order", "payment")
        verbose_name_plural = pgettext_lazy("charges of orders", "payments")
        permissions = [("export_payment", "Can export payments (CSV/XLSX)")]
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"], name="payment_one_per_idempotency_key"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="payment_amount_non_negative"),
        ]

    def __str__(self) -> str:
        order = named(self, "order", "number", str(self.order_id))
        return f"{self.purpose} {self.amount} for order {order} ({self.status})"
