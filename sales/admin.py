"""Admin for flash sales: schedule and edit through the services, load/rebuild/check gates."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils import timezone

from core.errors import DomainError
from sales import selectors, services
from sales.gate.keys import SHARDS_MAX
from sales.models import Draw, FCode, FlashSale, RejectedTicket, Reservation, StockReturn
from sales.modes import draws, fcodes
from sales.pipeline.reconcile import sale_reconcile


@admin.action(description="Load the gate now (first load only)", permissions=["change"])
def load_gate(modeladmin, request, queryset):
    loaded = sum(1 for pk in queryset.values_list("pk", flat=True)
                 if services.gate_load(sale_id=pk))
    modeladmin.message_user(request, f"Loaded {loaded} gate(s).", messages.SUCCESS)


@admin.action(description="Rebuild the gate from the database", permissions=["change"])
def rebuild_gate(modeladmin, request, queryset):
    for pk in queryset.values_list("pk", flat=True):
        left, queued = services.gate_rebuild(sale_id=pk)
        modeladmin.message_user(request, f"Sale {pk}: {left} left, {queued} queued.")


@admin.action(description="Reconcile: compare the gate with the database (read-only)",
              permissions=["view"])
def reconcile(modeladmin, request, queryset):
    for pk in queryset.values_list("pk", flat=True):
        drift = sale_reconcile(sale_id=pk)
        level = messages.SUCCESS if drift.clean else messages.WARNING
        modeladmin.message_user(request, f"Sale {pk}: {drift.as_dict()}", level)


@admin.action(description="Issue F-codes to the top fans (Lv2 and up) for the whole quota",
              permissions=["issue_fcodes"])
def issue_fcodes(modeladmin, request, queryset):
    for sale in queryset:
        try:
            issued = fcodes.fcodes_issue(sale_id=sale.pk, count=sale.fcode_quota, fan_level_min=2)
        except DomainError as error:
            modeladmin.message_user(request, f"{sale}: {error.message}", messages.WARNING)
            continue
        listing = ", ".join(f"{c.username}: {c.code}" for c in issued)
        modeladmin.message_user(request, f"{sale}: {len(issued)} code(s), shown once, deliver "
                                f"them now: {listing}", messages.SUCCESS)


@admin.action(description="Release unused F-code quota to the open rush",
              permissions=["change"])
def release_fcode_quota(modeladmin, request, queryset):
    for sale in queryset:
        try:
            moved = fcodes.fcode_quota_release(sale_id=sale.pk)
            modeladmin.message_user(request, f"{sale}: {moved} unit(s) released.")
        except DomainError as error:
            modeladmin.message_user(request, f"{sale}: {error.message}", messages.WARNING)


@admin.action(description="Run the draw (draw-mode sales, after entries close)",
              permissions=["run_draw"])
def run_draw(modeladmin, request, queryset):
    for sale in queryset:
        try:
            draw = draws.draw_run(sale_id=sale.pk, run_by_id=request.user.pk)
            modeladmin.message_user(request, f"{sale}: {len(draw.winners)} winner(s) of "
                                    f"{len(draw.entries)} entries, seed {draw.seed}.")
        except DomainError as error:
            modeladmin.message_user(request, f"{sale}: {error.message}", messages.WARNING)


class FlashSaleForm(forms.ModelForm):
    """Runs the services' checks in clean(), so refusals show on the form, not as a crash."""

    shards = forms.IntegerField(
        min_value=1, max_value=SHARDS_MAX, required=False,
        help_text="Redis shards (buckets) the gate splits the stock across, 1 to 16; empty: "
                  "one for a new sale, else unchanged.")

    class Meta:
        model = FlashSale
        fields = ["sku", "title", "starts_at", "ends_at", "price", "stock", "per_user_limit",
                  "payment_window", "mode", "requires_reservation", "reservation_opens_at",
                  "reservation_closes_at", "fcode_quota", "deposit", "deposit_expansion",
                  "deposit_window", "balance_opens_at", "balance_closes_at", "right_window",
                  "shards"]

    def clean_shards(self) -> int:
        value = self.cleaned_data.get("shards")
        return value if value is not None else (self.instance.shards if self.instance.pk else 1)

    def clean(self) -> dict:
        data = super().clean()
        existing = self.instance if self.instance.pk else None
        fields = {f: data[f] for f in self.changed_data if f in data} if existing else data
        try:
            services.sale_validate(fields=fields, sale=existing)
        except DomainError as error:
            fields = [f for f in error.details if f in self.fields]
            message = f"{error.message} {error.details if not fields else ''}".strip()
            if fields:
                for field in fields:
                    self.add_error(field, message)
            else:
                raise forms.ValidationError(message) from None
        return data


@admin.register(FlashSale)
class FlashSaleAdmin(admin.ModelAdmin):
    list_display = ["title", "sku", "price", "stock", "stock_left", "status", "per_user_limit",
                    "mode", "reservation_count", "fcode_quota", "deposit", "starts_at", "ends_at",
                    "gate_loaded_at"]
    list_filter = ["mode", "starts_at"]
    search_fields = ["title", "sku__code", "sku__name"]
    list_select_related = ["sku"]
    readonly_fields = ["gate_loaded_at", "gate_epoch", "created_at"]
    date_hierarchy = "starts_at"
    actions = [load_gate, rebuild_gate, reconcile, issue_fcodes, release_fcode_quota, run_draw]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(reservation_total=Count("reservations"))

    # Each action asks for what its API twin asks for (sales.api.views): the gate actions change
    # the sale, issuing codes adds F-codes (and shows them in plain text), a draw adds a Draw.
    def has_issue_fcodes_permission(self, request) -> bool:
        return request.user.has_perm("sales.add_fcode")

    def has_run_draw_permission(self, request) -> bool:
        return request.user.has_perm("sales.add_draw")

    @admin.display(description="reservations", ordering="reservation_total")
    def reservation_count(self, obj: FlashSale) -> int:
        return obj.reservation_total

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

    form = FlashSaleForm

    def save_model(self, request, obj, form, change) -> None:
        """Through the services, so a loaded sale cannot be edited into an inconsistent state
        (the form already ran the same checks and shows their errors on the fields)."""
        if change:
            fields = {name: form.cleaned_data[name] for name in form.changed_data}
            saved = services.sale_update(sale_id=obj.pk, **fields)
        else:
            saved = services.sale_create(**form.cleaned_data)
        obj.pk, obj.gate_epoch, obj.gate_loaded_at = (saved.pk, saved.gate_epoch,
                                                      saved.gate_loaded_at)


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ["sale", "user", "created_at"]
    list_filter = ["sale"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]


class RecordAdmin(admin.ModelAdmin):
    """A record the stock's counters and the tickets' decisions are built on: written by the
    services, read by ops, deleted by no one (a deleted StockReturn would give its units back
    twice; a deleted F-code or draw would let its unit or its draw be had again)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FCode)
class FCodeAdmin(RecordAdmin):
    list_display = ["sale", "user", "kind", "hint", "issued_at", "expires_at", "order",
                    "lapsed_at"]
    list_filter = ["kind", "sale"]
    search_fields = ["user__username", "hint"]
    readonly_fields = ["sale", "user", "kind", "code_hash", "hint", "issued_at", "expires_at",
                       "order", "lapsed_at"]

    # (codes are issued by the action on sales, so the plain code is shown once)


@admin.register(Draw)
class DrawAdmin(RecordAdmin):
    list_display = ["sale", "seed", "run_at", "run_by"]
    readonly_fields = ["sale", "seed", "entries", "winners", "waitlist", "run_at", "run_by"]


@admin.register(StockReturn)
class StockReturnAdmin(RecordAdmin):
    list_display = ["order", "sale", "quantity", "reason", "created_at"]
    list_filter = ["reason"]
    readonly_fields = ["order", "sale", "quantity", "reason", "created_at"]


@admin.register(RejectedTicket)
class RejectedTicketAdmin(RecordAdmin):
    list_display = ["ticket", "sale", "user_id", "quantity", "reason", "created_at"]
    list_filter = ["reason"]
    search_fields = ["ticket"]
    readonly_fields = ["ticket", "sale", "user_id", "quantity", "reason", "created_at"]
