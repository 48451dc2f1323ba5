"""Admin for flash sales: schedule and edit through the services, load/rebuild/check gates."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from sales import selectors, services
from sales.models import FlashSale, RejectedTicket, StockReturn
from sales.reconcile import sale_reconcile
from shop.errors import DomainError


@admin.action(description="Load the gate now (first load only)")
def load_gate(modeladmin, request, queryset):
    loaded = sum(1 for pk in queryset.values_list("pk", flat=True)
                 if services.gate_load(sale_id=pk))
    modeladmin.message_user(request, f"Loaded {loaded} gate(s).", messages.SUCCESS)


@admin.action(description="Rebuild the gate from the database")
def rebuild_gate(modeladmin, request, queryset):
    for pk in queryset.values_list("pk", flat=True):
        left, queued = services.gate_rebuild(sale_id=pk)
        modeladmin.message_user(request, f"Sale {pk}: {left} left, {queued} queued.")


@admin.action(description="Reconcile: compare the gate with the database")
def reconcile(modeladmin, request, queryset):
    for pk in queryset.values_list("pk", flat=True):
        drift = sale_reconcile(sale_id=pk)
        level = messages.SUCCESS if drift.clean else messages.WARNING
        modeladmin.message_user(request, f"Sale {pk}: {drift.as_dict()}", level)


@admin.register(FlashSale)
class FlashSaleAdmin(admin.ModelAdmin):
    list_display = ["title", "sku", "price", "stock", "stock_left", "status", "per_user_limit",
                    "mode", "starts_at", "ends_at", "gate_loaded_at"]
    list_filter = ["mode", "starts_at"]
    search_fields = ["title", "sku__code", "sku__name"]
    list_select_related = ["sku"]
    readonly_fields = ["gate_loaded_at", "gate_epoch", "created_at"]
    date_hierarchy = "starts_at"
    actions = [load_gate, rebuild_gate, reconcile]

    def _left(self, obj: FlashSale) -> int:
        cache = getattr(self, "_left_cache", None)
        if cache is None or obj.pk not in cache:
            self._left_cache = selectors.stock_left_map([obj])
        return self._left_cache[obj.pk]

    @admin.display(description="left")
    def stock_left(self, obj: FlashSale) -> int:
        return self._left(obj)

    @admin.display(description="status")
    def status(self, obj: FlashSale) -> str:
        return obj.status_at(timezone.now(), self._left(obj))

    def save_model(self, request, obj, form, change) -> None:
        """Through the services, so a loaded sale cannot be edited into an inconsistent state."""
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            if change:
                services.sale_update(sale_id=obj.pk, **fields)
            else:
                created = services.sale_create(**form.cleaned_data)
                obj.pk = created.pk
        except DomainError as error:
            self.message_user(request, f"Not saved: {error.message} {error.details}",
                              messages.ERROR)


@admin.register(StockReturn)
class StockReturnAdmin(admin.ModelAdmin):
    list_display = ["order", "sale", "quantity", "reason", "created_at"]
    list_filter = ["reason"]
    readonly_fields = ["order", "sale", "quantity", "reason", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(RejectedTicket)
class RejectedTicketAdmin(admin.ModelAdmin):
    list_display = ["ticket", "sale", "user_id", "quantity", "reason", "created_at"]
    list_filter = ["reason"]
    search_fields = ["ticket"]
    readonly_fields = ["ticket", "sale", "user_id", "quantity", "reason", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False
