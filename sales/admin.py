"""Admin for flash sales: schedule and edit through the services, load/rebuild/check gates."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from sales import selectors, services
from sales.charts import bars_svg
from sales.dashboard import sale_dashboard
from sales.gate.keys import SHARDS_MAX
from sales.models import MODE_TERMS, FlashSale, SaleStatus
from sales.modes import draws, fcodes
from sales.pipeline.reconcile import sale_reconcile
from shop.models import OrderStatus


@admin.action(description=_("Load the gate now (first load only)"), permissions=["change"])
def load_gate(modeladmin, request, queryset):
    loaded = sum(1 for pk in queryset.values_list("pk", flat=True)
                 if services.gate_load(sale_id=pk))
    modeladmin.message_user(request, gettext("Loaded %(n)s gate(s).") % {"n": loaded},
                            messages.SUCCESS)


@admin.action(description=_("Rebuild the gate from the database"), permissions=["change"])
def rebuild_gate(modeladmin, request, queryset):
    for pk in queryset.values_list("pk", flat=True):
        left, queued = services.gate_rebuild(sale_id=pk)
        modeladmin.message_user(request, gettext(
            "Sale %(sale)s: %(left)s left, %(queued)s queued.")
            % {"sale": pk, "left": left, "queued": queued})


@admin.action(description=_("Reconcile: compare the gate with the database (read-only)"),
              permissions=["view"])
def reconcile(modeladmin, request, queryset):
    for pk in queryset.values_list("pk", flat=True):
        drift = sale_reconcile(sale_id=pk)
        level = messages.SUCCESS if drift.clean else messages.WARNING
        modeladmin.message_user(request, gettext("Sale %(sale)s: %(drift)s")
                                % {"sale": pk, "drift": drift.as_dict()}, level)


@admin.action(description=_("Issue F-codes to the top fans (Lv2 and up) for the whole quota"),
              permissions=["issue_fcodes"])
def issue_fcodes(modeladmin, request, queryset):
    for sale in queryset:
        try:
            issued = fcodes.fcodes_issue(sale_id=sale.pk, count=sale.fcode_quota, fan_level_min=2)
        except DomainError as error:
            modeladmin.message_user(request, f"{sale}: {error.message}", messages.WARNING)
            continue
        listing = ", ".join(f"{c.username}: {c.code}" for c in issued)
        modeladmin.message_user(request, gettext(
            "%(sale)s: %(n)s code(s), shown once, deliver them now: %(listing)s")
            % {"sale": sale, "n": len(issued), "listing": listing}, messages.SUCCESS)


@admin.action(description=_("Release unused F-code quota to the open rush"),
              permissions=["change"])
def release_fcode_quota(modeladmin, request, queryset):
    for sale in queryset:
        try:
            moved = fcodes.fcode_quota_release(sale_id=sale.pk)
            modeladmin.message_user(request, gettext("%(sale)s: %(n)s unit(s) released.")
                                    % {"sale": sale, "n": moved})
        except DomainError as error:
            modeladmin.message_user(request, f"{sale}: {error.message}", messages.WARNING)


@admin.action(description=_("Run the draw (draw-mode sales, after entries close)"),
              permissions=["run_draw"])
def run_draw(modeladmin, request, queryset):
    for sale in queryset:
        try:
            draw = draws.draw_run(sale_id=sale.pk, run_by_id=request.user.pk)
            modeladmin.message_user(request, gettext(
                "%(sale)s: %(winners)s winner(s) of %(entries)s entries, seed %(seed)s.")
                % {"sale": sale, "winners": len(draw.winners), "entries": len(draw.entries),
                   "seed": draw.seed})
        except DomainError as error:
            modeladmin.message_user(request, f"{sale}: {error.message}", messages.WARNING)


def _order_status(status: str) -> str:
    """An order status as ops read it (its label, in the page's language)."""
    return OrderStatus(status).label if status in OrderStatus.values else status


COMMON_TERMS = ["sku", "title", "mode", "starts_at", "ends_at", "price", "stock",
                "per_user_limit", "payment_window", "shards"]
MODE_FIELDS = ["fcode_quota", "requires_reservation", "reservation_opens_at",
               "reservation_closes_at", "deposit", "deposit_expansion", "deposit_window",
               "balance_opens_at", "balance_closes_at", "right_window"]


class FlashSaleForm(forms.ModelForm):
    """Runs the services' checks in clean(), so refusals show on the form, not as a crash."""

    shards = forms.IntegerField(
        min_value=1, max_value=SHARDS_MAX, required=False, label=_("shards"),
        help_text=_("Redis shards (buckets) the gate splits the stock across, 1 to 16; empty: "
                    "one for a new sale, else unchanged."))

    class Meta:
        model = FlashSale
        # The terms in the page's language (the model's own names stay those of the schema).
        labels = {"sku": _("SKU"), "title": _("title"), "starts_at": _("starts at"),
                  "ends_at": _("ends at"), "price": _("price"), "stock": _("stock"),
                  "per_user_limit": _("limit per account"),
                  "payment_window": _("payment window"), "mode": _("mode"),
                  "requires_reservation": _("requires a reservation"),
                  "reservation_opens_at": _("reservations open at"),
                  "reservation_closes_at": _("reservations close at"),
                  "fcode_quota": _("F-code quota"), "deposit": _("deposit"),
                  "deposit_expansion": _("deposit expansion"),
                  "deposit_window": _("deposit window"),
                  "balance_opens_at": _("balance opens at"),
                  "balance_closes_at": _("balance closes at"),
                  "right_window": _("purchase right window"), "shards": _("shards")}
        help_texts = {
            "requires_reservation": _("Only accounts that reserved may buy (always on for "
                                      "draws)."),
            "fcode_quota": _("Part of the stock kept for F-code holders (and draw winners)."),
            "deposit_expansion": _("Extra value a paid deposit counts for (a deposit of 100 "
                                   "counts as 150)."),
            "right_window": _("How long a draw winner's purchase right lasts.")}
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


class SaleChangeList(ChangeList):
    """Reads the stock left of the whole page in one MGET, not one per row."""

    def get_results(self, request) -> None:
        super().get_results(request)
        left = selectors.stock_left_map(list(self.result_list))
        for sale in self.result_list:
            sale.left = left[sale.pk]


@admin.register(FlashSale)
class FlashSaleAdmin(admin.ModelAdmin):
    # What ops look for in a list of sales, in columns that fit 1280 px; the rest (SKU, F-code
    # quota, deposit, limits, the gate's state) is on the sale's page and its dashboard.
    list_display = ["title", "mode", "status", "price", "stock_left", "reservation_count",
                    "starts_at", "ends_at", "dashboard"]
    list_filter = ["mode", "starts_at"]
    search_fields = ["title", "sku__code", "sku__name"]
    list_select_related = ["sku"]
    readonly_fields = ["dashboard", "buckets", "gate_loaded_at", "gate_epoch", "created_at"]
    date_hierarchy = "starts_at"
    actions = [load_gate, rebuild_gate, reconcile, issue_fcodes, release_fcode_quota, run_draw]

    def get_fieldsets(self, request, obj=None):
        """The terms every sale has, then those of the modes: the page shows only the chosen
        mode's (MODE_TERMS; hidden ones keep their values and show when they have an error)."""
        fieldsets = [
            (None, {"fields": COMMON_TERMS}),
            (_("Terms of the mode"), {"fields": MODE_FIELDS, "classes": ["mode-terms"],
                                      "description": _("Only the terms of the chosen mode "
                                                       "are shown.")}),
        ]
        if obj is not None:
            fieldsets.append((_("Gate"), {"fields": ["dashboard", "buckets", "gate_loaded_at",
                                                     "gate_epoch", "created_at"]}))
        return fieldsets

    def render_change_form(self, request, context, *args, **kwargs):
        context["mode_terms"] = MODE_TERMS
        return super().render_change_form(request, context, *args, **kwargs)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(reservation_total=Count("reservations"))

    def get_changelist(self, request, **kwargs):
        return SaleChangeList

    # Each action asks for what its API twin asks for (sales.api.views): the gate actions change
    # the sale, issuing codes adds F-codes (and shows them in plain text), a draw adds a Draw.
    def has_issue_fcodes_permission(self, request) -> bool:
        return request.user.has_perm("sales.add_fcode")

    def has_run_draw_permission(self, request) -> bool:
        return request.user.has_perm("sales.add_draw")

    @admin.display(description=_("reserved"), ordering="reservation_total")
    def reservation_count(self, obj: FlashSale) -> int:
        return obj.reservation_total

    def _left(self, obj: FlashSale) -> int:
        left = getattr(obj, "left", None)  # the list reads the whole page's at once
        return selectors.stock_left_map([obj])[obj.pk] if left is None else left

    @admin.display(description=_("left"))
    def stock_left(self, obj: FlashSale) -> str:
        return gettext("%(left)s of %(stock)s") % {"left": self._left(obj), "stock": obj.stock}

    @admin.display(description=_("status"))
    def status(self, obj: FlashSale) -> str:
        return SaleStatus(obj.status_at(timezone.now(), self._left(obj))).label

    @admin.display(description=_("dashboard"))
    def dashboard(self, obj: FlashSale) -> str:
        if obj.pk is None:  # a sale being added has none yet
            return "-"
        url = reverse("admin:sales_flashsale_dashboard", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Dashboard"))

    @admin.display(description=_("buckets"))
    def buckets(self, obj: FlashSale) -> str:
        """Each bucket of the gate (or why they cannot be read): sales.selectors.sale_buckets."""
        if obj.pk is None:
            return "-"
        return render_to_string("admin/sales/flashsale/_buckets.html",
                                {"buckets": selectors.sale_buckets(sale=obj)})

    def get_urls(self):
        view = self.admin_site.admin_view(self.dashboard_view)
        return [path("<int:sale_id>/dashboard/", view, name="sales_flashsale_dashboard"),
                *super().get_urls()]

    def dashboard_view(self, request, sale_id: int):
        """The sale's numbers and its minutes as charts (sales.dashboard: bounded queries)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        sale = FlashSale.objects.select_related("sku").filter(pk=sale_id).first()
        if sale is None:
            raise Http404(gettext("No such sale."))
        board = sale_dashboard(sale=sale)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": gettext("%(sale)s: dashboard") % {"sale": sale.title},
                   "sale": sale, "board": board,
                   "reminders": selectors.reminder_counts(sale_id=sale.pk),
                   "status": SaleStatus(sale.status_at(timezone.now(),
                                               board["report"]["stock_left"])).label,
                   "order_statuses": [(_order_status(status), n) for status, n
                                      in board["report"]["orders_by_status"].items()],
                   "charts": [bars_svg(title=title, points=points)
                              for title, points in board["series"]]}
        return TemplateResponse(request, "admin/sales/flashsale/dashboard.html", context)

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


# The records' admins, and those of shop and antiscalper extended with sale titles
from sales import admin_names, admin_records  # noqa: E402,F401
