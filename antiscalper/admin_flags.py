"""Ops admin for the risk engine: the review queue and sale summaries (tuning the rules:
antiscalper.admin_tuning).

Imported by antiscalper.admin. The queue is the RiskDecision changelist, showing flags
(review and block) by default; its two actions go through antiscalper.flags.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from antiscalper import flags
from antiscalper.models import Decision, RiskDecision

FIRED_LISTED = 3


class FlagFilter(admin.SimpleListFilter):
    """Flags (review and block) unless ops ask for allowed decisions or everything."""

    title = "decision"
    parameter_name = "flag"

    def lookups(self, request, model_admin):
        return [("flags", "Flags (review or block)"), ("review", "Review"),
                ("block", "Block"), ("allow", "Allow"), ("all", "All")]

    def value(self):
        return super().value() or "flags"

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {"selected": self.value() == lookup, "display": title,
                   "query_string": changelist.get_query_string({self.parameter_name: lookup})}

    def queryset(self, request, queryset):
        value = self.value()
        if value == "flags":
            return queryset.filter(decision__in=flags.FLAGGED)
        if value in Decision.values:
            return queryset.filter(decision=value)
        return queryset


def _answer(modeladmin, request, queryset, service, verb: str) -> None:
    ids = list(queryset.values_list("pk", flat=True))
    done = sum(1 for pk in ids if service(decision_id=pk, actor_id=request.user.pk))
    modeladmin.message_user(request, f"{verb} {done} flag(s).", messages.SUCCESS)
    if len(ids) - done:
        modeladmin.message_user(request, f"{len(ids) - done} flag(s) were already handled.",
                                messages.WARNING)


@admin.action(description="Confirm and blacklist the account and device",
              permissions=["confirm"])
def confirm_and_blacklist(modeladmin, request, queryset):
    _answer(modeladmin, request, queryset, flags.flag_confirm, "Confirmed")


@admin.action(description="False positive: allowlist the account", permissions=["clear"])
def false_positive_allow(modeladmin, request, queryset):
    _answer(modeladmin, request, queryset, flags.flag_clear, "Cleared")


@admin.register(RiskDecision)
class RiskDecisionAdmin(admin.ModelAdmin):
    list_display = ["id", "sale_id", "user", "decision", "score", "fired", "source",
                    "review_status", "created_at"]
    list_filter = [FlagFilter, "review_status", "source", "sale_id"]
    search_fields = ["user__username", "ticket", "device", "ip"]
    list_select_related = ["user"]
    actions = [confirm_and_blacklist, false_positive_allow]
    readonly_fields = ["sale_id", "user", "ticket", "source", "device", "ip", "score",
                       "decision", "reason", "rules", "review_status", "reviewed_by",
                       "reviewed_at", "created_at"]
    change_list_template = "admin/antiscalper/riskdecision_change_list.html"

    @admin.display(description="rules fired")
    def fired(self, obj) -> str:
        shown = [f"{r['code']}={r['value']:g}" for r in obj.rules]
        more = len(shown) - FIRED_LISTED
        return ", ".join(shown[:FIRED_LISTED]) + (f" and {more} more" if more > 0 else "") \
            or "-"

    def has_add_permission(self, request) -> bool:
        return False  # decisions come from the risk engine

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a decision is evidence: why an order was cancelled, who reviewed it

    # Answering a flag writes to a list: it needs that list's right (the blacklist's is what
    # POST /api/v1/ops/blacklist asks for) as well as the right to answer the flag.
    def has_confirm_permission(self, request) -> bool:
        return request.user.has_perms(["antiscalper.change_riskdecision",
                                       "antiscalper.add_blacklistentry"])

    def has_clear_permission(self, request) -> bool:
        return request.user.has_perms(["antiscalper.change_riskdecision",
                                       "antiscalper.add_allowlistentry"])

    def get_urls(self):
        view = self.admin_site.admin_view(self.summary_view)
        return [path("summary/", view, name="antiscalper_risk_summary"), *super().get_urls()]

    def summary_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        sale = request.GET.get("sale", "")
        summary = flags.sale_summary(sale_id=int(sale)) if sale.isdigit() else None
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": f"Risk summary of sale {sale}" if summary else "Risk summary",
                   "summary": summary, "sales": flags.sales_seen()}
        return TemplateResponse(request, "admin/antiscalper/risk_summary.html", context)
