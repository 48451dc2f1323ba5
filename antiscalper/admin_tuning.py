"""Ops admin for tuning the risk engine: rule settings and the policy's scores.

Imported by antiscalper.admin. Changing what decides (a rule's switch, threshold, weight or
action; a policy score) asks first: saving the change page shows a confirmation page with
each old and new value, and only its "Yes" applies the change, through antiscalper.tuning
(audited with the previous value, refused if someone changed the row in between). The list
is read-only for the same reason: an inline edit would skip the confirmation.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from antiscalper import rules, tuning
from antiscalper.admin_flags import FAMILIES
from antiscalper.models import RiskPolicy, RuleSetting
from core.errors import DomainError

# The settings as the forms and the confirmation page name them, in the page's language.
SETTINGS = {"enabled": _("enabled"), "threshold": _("threshold"), "weight": _("weight"),
            "action": _("action"), "description": _("description"),
            "review_score": _("review score"), "block_score": _("block score"),
            "ip_cap": _("IP cap")}
HELP = {"threshold": _("See the rule's description for its unit."),
        "weight": _("Points added to the score when the rule fires."),
        "ip_cap": _("Most points the IP-only rules may add together; the engine also keeps it "
                    "below the block score, so an IP alone never blocks.")}
CONFIRMED = "_confirmed"
SEEN = "_seen_"


def _errors_onto(form: forms.ModelForm, error: DomainError) -> None:
    named = [f for f in error.details if f in form.fields]
    for name in named:
        form.add_error(name, error.message)
    if not named:
        form.add_error(None, error.message)


class RuleSettingForm(forms.ModelForm):
    class Meta:
        labels, help_texts = SETTINGS, HELP

    def clean(self):
        data = super().clean()
        try:
            tuning.rule_setting_validate(code=self.instance.code or data.get("code", ""),
                                         fields=data)
        except DomainError as error:
            _errors_onto(self, error)
        return data


class RiskPolicyForm(forms.ModelForm):
    class Meta:
        labels, help_texts = SETTINGS, HELP

    def clean(self):
        data = super().clean()
        try:
            tuning.policy_validate(fields=data)
        except DomainError as error:
            _errors_onto(self, error)
        return data


class ConfirmedChange(admin.ModelAdmin):
    """A change to a `watched` field is shown for confirmation first; `apply` saves it."""

    watched: tuple[str, ...] = ()

    def apply(self, request, obj, changes: dict, seen: dict | None) -> dict:
        raise NotImplementedError

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST" and CONFIRMED not in request.POST:
            page = self._confirmation(request, object_id)
            if page is not None:
                return page
        try:
            return super().change_view(request, object_id, form_url, extra_context)
        except DomainError as error:  # the row moved since the confirmation (rolled back)
            self.message_user(request, error.message + " " + "; ".join(
                f"{field} {', '.join(why)}" for field, why in error.details.items()),
                messages.ERROR)
            return HttpResponseRedirect(request.path)

    def _confirmation(self, request, object_id):
        """The confirmation page, or None to let the admin answer (no right, no such row,
        errors on the form, nothing watched changed)."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_change_permission(request, obj):
            return None
        before = {name: getattr(obj, name) for name in self.watched}
        named = str(obj)  # before the form lays the new values over it
        form = self.get_form(request, obj, change=True)(request.POST, instance=obj)
        if not form.is_valid():
            return None
        changes = [{"name": name,
                    "label": SETTINGS.get(name, obj._meta.get_field(name).verbose_name),
                    "old": before[name], "new": form.cleaned_data[name]}
                   for name in self.watched
                   if name in form.cleaned_data and form.cleaned_data[name] != before[name]]
        if not changes:
            return None
        posted = [(key, value) for key, values in request.POST.lists() for value in values
                  if key != "csrfmiddlewaretoken"]
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": gettext("Change %(object)s?") % {"object": named}, "object": named,
                   "changes": changes,
                   "posted": posted, "seen": [(SEEN + n, v) for n, v in before.items()],
                   "confirmed": CONFIRMED, "back": request.path}
        return TemplateResponse(request, "admin/antiscalper/confirm_tuning.html", context)

    def save_model(self, request, obj, form, change) -> None:
        """Through antiscalper.tuning, with the values the person confirmed against."""
        fields = [f for f in form.changed_data if f in form.cleaned_data]
        changes = {name: form.cleaned_data[name] for name in fields}
        seen = {name[len(SEEN):]: obj._meta.get_field(name[len(SEEN):]).to_python(value)
                for name, value in request.POST.items()
                if name.startswith(SEEN) and name[len(SEEN):] in self.watched} or None
        done = self.apply(request, obj, changes, seen)
        if change and not done:
            self.message_user(request, gettext("Nothing changed: it already had these values."),
                              messages.INFO)

    # tuning audits each change with its previous value; the admin's own entry would repeat it
    def log_change(self, request, obj, message):
        return None

    def log_addition(self, request, obj, message):
        return None


@admin.register(RuleSetting)
class RuleSettingAdmin(ConfirmedChange):
    form = RuleSettingForm
    watched = ("enabled", "threshold", "weight", "action")
    list_display = ["code", "enabled", "threshold", "weight", "action", "family", "updated_at"]
    list_filter = ["enabled", "action"]
    search_fields = ["code", "description"]

    def apply(self, request, obj, changes: dict, seen: dict | None) -> dict:
        return tuning.rule_setting_change(code=obj.code, changes=changes, seen=seen,
                                          actor_id=request.user.pk)

    def has_add_permission(self, request) -> bool:
        return False  # one row per rule of antiscalper.rules, seeded by the migrations

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a rule without a row takes its code defaults: delete is an edit

    @admin.display(description=_("family"))
    def family(self, obj) -> str:
        rule = rules.RULES.get(obj.code)
        return FAMILIES.get(rule.family, rule.family) if rule else "?"

    def get_readonly_fields(self, request, obj=None):
        return ["code", "intent"] if obj else ["intent"]

    @admin.display(description=_("what it measures"))
    def intent(self, obj) -> str:
        rule = rules.RULES.get(obj.code) if obj else None
        below = gettext(" (fires below the threshold)") if rule and rule.below else ""
        return f"{rule.intent}{below}" if rule else ""


@admin.register(RiskPolicy)
class RiskPolicyAdmin(ConfirmedChange):
    form = RiskPolicyForm
    watched = tuning.POLICY_FIELDS
    list_display = ["__str__", "review_score", "block_score", "ip_cap", "updated_at"]

    def apply(self, request, obj, changes: dict, seen: dict | None) -> dict:
        done = tuning.policy_change(changes=changes, seen=seen, actor_id=request.user.pk)
        obj.pk = 1
        return done

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and not RiskPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
