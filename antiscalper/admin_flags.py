"""Ops admin for the risk engine: the review queue, a decision's page and sale summaries
(tuning the rules: antiscalper.admin_tuning).

Imported by antiscalper.admin. The queue is the RiskDecision changelist, showing flags
(review and block) by default; its two actions go through antiscalper.flags. A decision's
page shows the rules that fired as a table (value, threshold, points, what the rule
measures) and the same two answers as buttons, each a POST to its own address
(CSRF-protected) that needs the action's rights; answering twice answers once.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from antiscalper import flags, rules
from antiscalper.models import Decision, RiskDecision
from core.names import NamesLoaded

FIRED_LISTED = 3
# Families whose points are capped together (antiscalper.rules): a rule's weight is what it
# adds at most, not always what it added.
CAPPED = {rules.IP: _("IP rules add at most the policy's IP cap together."),
          rules.RING: _("Ring features lift the score to just below the block score at most."),
          **{family: _("Copyable details add at most the block score minus one with the IP "
                       "rules.") for family in rules.COPYABLE}}
# A rule's family and its action as ops read them (the codes stay in the data).
FAMILIES = {"account": _("account"), "device": _("device"), rules.IP: _("IP"),
            "timing": _("timing"), "identity": _("identity"), "linking": _("linking"),
            "client": _("client"), "history": _("history"), rules.RING: _("ring"),
            "list": _("lists")}
ACTIONS = {"score": _("score"), "review": _("review"), "block": _("block")}


def rule_rows(fired: list[dict]) -> list[dict]:
    """The rules a decision recorded, as a person reads them: what each measures, the value
    measured, the threshold it was compared with and how, and its points."""
    rows = []
    for entry in fired:
        rule = rules.RULES.get(entry["code"])
        details = entry.get("details") or {}
        rows.append({
            "code": entry["code"], "family": FAMILIES.get(rule.family, rule.family) if rule
            else "?",
            "value": entry.get("value"), "threshold": entry.get("threshold"),
            "fires": gettext("below") if rule and rule.below else gettext("at or above"),
            "points": entry.get("weight"),
            "action": ACTIONS.get(entry.get("action", ""), entry.get("action", "")),
            "intent": rule.intent if rule else gettext("A rule this version no longer has."),
            "capped": CAPPED.get(rule.family, "") if rule else "",
            "members": len(details.get("members", [])) if isinstance(details, dict) else 0,
        })
    return rows


class FlagFilter(admin.SimpleListFilter):
    """Flags (review and block) unless ops ask for allowed decisions or everything."""

    title = _("decision")
    parameter_name = "flag"

    def lookups(self, request, model_admin):
        return [("flags", _("Flags (review or block)")), ("review", _("Review")),
                ("block", _("Block")), ("allow", _("Allow")), ("all", _("All"))]

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


def _answer(modeladmin, request, queryset, service, done_as: str) -> None:
    """`done_as`: the message for the flags answered, with %(n)s for how many."""
    ids = list(queryset.values_list("pk", flat=True))
    done = sum(1 for pk in ids if service(decision_id=pk, actor_id=request.user.pk))
    modeladmin.message_user(request, done_as % {"n": done}, messages.SUCCESS)
    if len(ids) - done:
        modeladmin.message_user(request, gettext("%(n)s flag(s) were already handled.")
                                % {"n": len(ids) - done}, messages.WARNING)


@admin.action(description=_("Confirm and blacklist the account and device"),
              permissions=["confirm"])
def confirm_and_blacklist(modeladmin, request, queryset):
    _answer(modeladmin, request, queryset, flags.flag_confirm,
            gettext("Confirmed %(n)s flag(s)."))


@admin.action(description=_("False positive: allowlist the account"),
              permissions=["clear"])
def false_positive_allow(modeladmin, request, queryset):
    _answer(modeladmin, request, queryset, flags.flag_clear, gettext("Cleared %(n)s flag(s)."))


@admin.register(RiskDecision)
class RiskDecisionAdmin(NamesLoaded, admin.ModelAdmin):
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

    @admin.display(description=_("rules fired"))
    def fired(self, obj) -> str:
        shown = [f"{r['code']}={r['value']:g}" for r in obj.rules]
        more = len(shown) - FIRED_LISTED
        listed = ", ".join(shown[:FIRED_LISTED])
        return (gettext("%(listed)s and %(n)s more") % {"listed": listed, "n": more}
                if more > 0 else listed) or "-"

    def sale_label(self, sale_id: int) -> str:
        """The sale as the decision's page names it (sales.admin_names names it by title)."""
        return gettext("sale %(id)s") % {"id": sale_id}

    def sale_name(self, sale_id: int) -> str:
        """The sale in a page's title, plain text (sales.admin_names: by its title)."""
        return gettext("sale %(id)s") % {"id": sale_id}

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
        wrap = self.admin_site.admin_view
        return [path("summary/", wrap(self.summary_view), name="antiscalper_risk_summary"),
                *[path(f"<int:decision_id>/{verb}/", wrap(require_POST(self._answer_view(verb))),
                       name=f"antiscalper_riskdecision_{verb}") for verb in ANSWERS],
                *super().get_urls()]

    def _can(self, request, decision: RiskDecision) -> dict[str, bool]:
        open_ = decision.review_status == RiskDecision.Review.OPEN
        return {"confirm": open_ and self.has_confirm_permission(request),
                "clear": open_ and self.has_clear_permission(request)}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The decision's page (read-only: the answers are the buttons' POSTs)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        decision = RiskDecision.objects.select_related("user", "reviewed_by").filter(
            pk=int(object_id)).first() if str(object_id).isdigit() else None
        if decision is None:
            raise Http404(gettext("No such decision."))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": gettext("Decision #%(id)s: %(decision)s %(user)s in %(sale)s")
                   % {"id": decision.pk, "decision": decision.get_decision_display(),
                      "user": decision.user.username, "sale": self.sale_name(decision.sale_id)},
                   "decision": decision, "sale_label": self.sale_label(decision.sale_id),
                   "rows": rule_rows(decision.rules), "can": self._can(request, decision)}
        return TemplateResponse(request, "admin/antiscalper/riskdecision/decision.html",
                                context)

    def _answer_view(self, verb: str):
        service, allowed, done_as = ANSWERS[verb]

        def answer(request, decision_id: int):
            if not (self.has_view_permission(request) and allowed(self, request)):
                raise PermissionDenied
            page = reverse("admin:antiscalper_riskdecision_change", args=[decision_id])
            if not RiskDecision.objects.filter(pk=decision_id).exists():
                raise Http404(gettext("No such decision."))
            if service(decision_id=decision_id, actor_id=request.user.pk):
                self.message_user(request, done_as % {"id": decision_id}, messages.SUCCESS)
            else:
                decision = RiskDecision.objects.select_related("reviewed_by").get(
                    pk=decision_id)
                by = (decision.reviewed_by.username if decision.reviewed_by
                      else gettext("the system"))
                self.message_user(request, gettext(
                    "Decision #%(id)s was already answered (%(status)s, by %(by)s); nothing "
                    "changed.") % {"id": decision_id, "by": by,
                                   "status": decision.get_review_status_display()},
                    messages.WARNING)
            return HttpResponseRedirect(page)
        return answer

    def summary_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        sale = request.GET.get("sale", "")
        summary = flags.sale_summary(sale_id=int(sale)) if sale.isdigit() else None
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": gettext("Risk summary of sale %(sale)s") % {"sale": sale}
                   if summary else gettext("Risk summary"),
                   "summary": summary, "sales": flags.sales_seen()}
        return TemplateResponse(request, "admin/antiscalper/risk_summary.html", context)


ANSWERS = {
    "confirm": (flags.flag_confirm, RiskDecisionAdmin.has_confirm_permission,
                _("Decision #%(id)s: confirmed, the account and its device blacklisted.")),
    "clear": (flags.flag_clear, RiskDecisionAdmin.has_clear_permission,
              _("Decision #%(id)s: cleared as a false positive, the account allowlisted.")),
}
