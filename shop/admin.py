"""Django admin for the catalog, customers, orders and payments.

Money fields on orders and payments are read-only (they are decided by services), and order
status actions go through the same services as the API so that the state machine holds. An
order's address is read-only too: it is the version the shopper bought for, word for word.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin

from core.names import NamesLoaded
from shop import payments, services
from shop.models import Address, Customer, Order, OrderLine, Payment, Product, Sku


class SkuInline(admin.TabularInline):
    model = Sku
    extra = 0
    fields = ["code", "name", "price", "is_active"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "is_active", "created_at"]
    list_filter = ["category", "is_active"]
    search_fields = ["name", "skus__code"]
    inlines = [SkuInline]


@admin.register(Sku)
class SkuAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "product", "price", "is_active"]
    list_filter = ["is_active", "product__category"]
    search_fields = ["code", "name", "product__name"]
    list_select_related = ["product"]


ADDRESS_COLUMNS = ["recipient", "phone", "province", "city", "district", "line1", "postcode",
                   "is_default", "deleted_at", "replaced_by", "normalized", "building",
                   "created_at"]


class AddressInline(admin.TabularInline):
    """A customer's addresses, every version (deleted and replaced ones too: the orders'
    and the anti-scalper's record). Read-only: ops do not edit shoppers' addresses."""

    model = Address
    extra = 0
    fields = ["recipient", "phone", "province", "city", "district", "line1", "postcode",
              "is_default", "deleted_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(ExportMixin, admin.ModelAdmin):
    list_display = ["user", "phone", "fan_level", "is_verified", "phone_verified_at", "joined_at"]
    list_filter = ["fan_level", "is_verified"]
    search_fields = ["user__username", "phone"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    inlines = [AddressInline]
    date_hierarchy = "joined_at"


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    """Addresses as shoppers wrote them, with their default and deleted state; read-only
    (the shopper's address book writes them, `shop.address_book`), and never deleted here:
    orders and the anti-scalper's linking hold every version."""

    list_display = ["recipient", "province", "city", "district", "line1", "postcode",
                    "customer", "is_default", "deleted"]
    search_fields = ["recipient", "line1", "normalized", "phone", "customer__user__username"]
    list_filter = ["is_default", ("deleted_at", admin.EmptyFieldListFilter), "province", "city"]
    list_select_related = ["customer__user"]
    readonly_fields = ["customer", *ADDRESS_COLUMNS]
    fields = readonly_fields

    @admin.display(boolean=True, description=_("deleted"), ordering="deleted_at")
    def deleted(self, address: Address) -> bool:
        return address.deleted_at is not None

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    readonly_fields = ["sku", "quantity", "unit_price"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    can_delete = False
    fields = ["purpose", "amount", "status", "method", "gateway_ref", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _run(modeladmin, request, queryset: QuerySet, done_as: str, action) -> None:
    """`done_as`: the message for the orders changed, with %(n)s for how many."""
    done = sum(1 for order_id in queryset.values_list("pk", flat=True) if action(order_id))
    skipped = queryset.count() - done
    modeladmin.message_user(request, done_as % {"n": done}, messages.SUCCESS)
    if skipped:
        modeladmin.message_user(
            request, gettext("%(n)s order(s) were not in a state that allows it.")
            % {"n": skipped}, messages.WARNING)


@admin.action(description=_("Mark shipped (paid orders only)"), permissions=["change"])
def mark_shipped(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, gettext("Shipped %(n)s order(s)."),
         lambda order_id: services.order_ship(order_id=order_id))


@admin.action(description=_("Mark delivered (shipped orders only)"), permissions=["change"])
def mark_delivered(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, gettext("Delivered %(n)s order(s)."),
         lambda order_id: services.order_deliver(order_id=order_id))


@admin.action(description=_("Cancel (unpaid orders only)"), permissions=["change"])
def cancel_unpaid(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, gettext("Cancelled %(n)s order(s)."),
         lambda order_id: services.order_admin_cancel(order_id=order_id))


@admin.action(description=_("Refund through the gateway (paid or delivered)"),
              permissions=["change"])
def refund(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, gettext("Refunded %(n)s order(s)."),
         lambda order_id: payments.order_refund(order_id=order_id))


@admin.register(Order)
class OrderAdmin(ExportMixin, admin.ModelAdmin):
    # Columns that fit 1280 px; a pre-sale's deposit and balance are on the order's page.
    # (sales.admin_names shows the sale by its title: shop knows no sales.)
    list_display = ["number", "user", "status", "total", "sale_id", "payment_due_at",
                    "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["number", "ticket", "user__username"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    readonly_fields = ["number", "user", "status", "total", "deposit", "balance_due",
                       "payment_due_at", "balance_opens_at", "balance_due_at", "sale_id",
                       "ticket", "address", "created_at", "updated_at"]
    inlines = [OrderLineInline, PaymentInline]
    actions = [mark_shipped, mark_delivered, cancel_unpaid, refund]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(NamesLoaded, ExportMixin, admin.ModelAdmin):
    list_display = ["order", "user", "purpose", "amount", "status", "method", "created_at"]
    list_filter = ["status", "purpose", "method"]
    search_fields = ["order__number", "user__username", "idempotency_key", "gateway_ref",
                     "fingerprint"]
    list_select_related = ["order", "user"]
    readonly_fields = ["order", "user", "idempotency_key", "purpose", "amount", "method",
                       "instrument", "fingerprint", "status", "gateway_ref", "failure_reason",
                       "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
