"""Ops admin for appeals: the list, an appeal's page, and its two answers.

Imported by antiscalper.admin. An appeal's page shows what the shopper wrote, the blacklist
entry it was made against, and the account's flags with the rules that fired (the table of
antiscalper.admin_flags); uphold and reject are buttons, each a POST to its own address
(CSRF-protected) through antiscalper.appeals, and need the rights the list's actions need.
An appeal is answered once: a second click is told so and changes nothing.
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

from antiscalper import appeals, flags
from antiscalper.admin_flags import rule_rows
from antiscalper.admin_identities import IdentityShown, identity_shown
from antiscalper.models import Appeal

FLAGS_SHOWN = 5


@admin.action(description=_("Uphold: allowlist the identity and lift its blacklist entries"),
              permissions=["uphold"])
def uphold(modeladmin, request, queryset):
    ids = list(queryset.values_list("pk", flat=True))
    done = sum(1 for pk in ids if appeals.appeal_uphold(appeal_id=pk, actor_id=request.user.pk))
    modeladmin.message_user(request, gettext("Upheld %(n)s appeal(s).") % {"n": done},
                            messages.SUCCESS)
    _already(modeladmin, request, len(ids) - done)


@admin.action(description=_("Reject: keep the identity blocked"), permissions=["change"])
def reject(modeladmin, request, queryset):
    ids = list(queryset.values_list("pk", flat=True))
    done = sum(1 for pk in ids if appeals.appeal_reject(appeal_id=pk, actor_id=request.user.pk))
    modeladmin.message_user(request, gettext("Rejected %(n)s appeal(s).") % {"n": done},
                            messages.SUCCESS)
    _already(modeladmin, request, len(ids) - done)


def _already(modeladmin, request, left: int) -> None:
    if left:
        modeladmin.message_user(request, gettext("%(n)s appeal(s) were already handled.")
                                % {"n": left}, messages.WARNING)


@admin.register(Appeal)
class AppealAdmin(IdentityShown, admin.ModelAdmin):
    list_display = ["id", "user", "kind", "identity", "status", "created_at", "handled_by"]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["value", "message", "user__username"]
    list_select_related = ["user", "handled_by"]
    readonly_fields = ["user", "kind", "identity", "entry", "message", "status", "resolution",
                       "handled_by", "handled_at", "created_at"]
    fields = readonly_fields
    actions = [uphold, reject]

    def has_add_permission(self, request) -> bool:
        return False  # appeals come from shoppers (POST /api/v1/appeals)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # an appeal is evidence of what the shopper asked and who answered

    def has_uphold_permission(self, request) -> bool:
        """Upholding clears the identity for everyone: it adds an allowlist entry and lifts
        blacklist entries, so it needs those rights as well as answering the appeal."""
        return request.user.has_perms(["antiscalper.change_appeal",
                                       "antiscalper.add_allowlistentry",
                                       "antiscalper.change_blacklistentry"])

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [*[path(f"<int:appeal_id>/{verb}/", wrap(require_POST(self._answer_view(verb))),
                       name=f"antiscalper_appeal_{verb}") for verb in ANSWERS],
                *super().get_urls()]

    def _allowed(self, request, verb: str) -> bool:
        return (self.has_uphold_permission(request) if verb == "uphold"
                else self.has_change_permission(request))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The appeal's page (read-only: the answers are the buttons' POSTs)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        appeal = Appeal.objects.select_related("user", "entry", "handled_by").filter(
            pk=int(object_id)).first() if str(object_id).isdigit() else None
        if appeal is None:
            raise Http404(gettext("No such appeal."))
        decisions = list(flags.flag_list().filter(user_id=appeal.user_id)
                         .select_related("reviewed_by")[:FLAGS_SHOWN])
        open_ = appeal.status == Appeal.Status.OPEN
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": gettext("Appeal #%(id)s by %(user)s")
                   % {"id": appeal.pk, "user": appeal.user.username},
                   "appeal": appeal, "identity": identity_shown(appeal),
                   "decisions": [(d, rule_rows(d.rules)) for d in decisions],
                   "can": {verb: open_ and self._allowed(request, verb) for verb in ANSWERS}}
        return TemplateResponse(request, "admin/antiscalper/appeal/appeal.html", context)

    def _answer_view(self, verb: str):
        service, done_as = ANSWERS[verb]

        def answer(request, appeal_id: int):
            if not (self.has_view_permission(request) and self._allowed(request, verb)):
                raise PermissionDenied
            if not Appeal.objects.filter(pk=appeal_id).exists():
                raise Http404(gettext("No such appeal."))
            note = request.POST.get("note", "").strip()
            if service(appeal_id=appeal_id, actor_id=request.user.pk, note=note):
                self.message_user(request, done_as % {"id": appeal_id}, messages.SUCCESS)
            else:
                appeal = Appeal.objects.select_related("handled_by").get(pk=appeal_id)
                by = appeal.handled_by.username if appeal.handled_by else gettext("the system")
                self.message_user(request, gettext(
                    "Appeal #%(id)s was already answered (%(status)s, by %(by)s); nothing "
                    "changed.") % {"id": appeal_id, "status": appeal.get_status_display(),
                                   "by": by}, messages.WARNING)
            return HttpResponseRedirect(reverse("admin:antiscalper_appeal_change",
                                                args=[appeal_id]))
        return answer


ANSWERS = {
    "uphold": (appeals.appeal_uphold, _("Appeal #%(id)s upheld: the identity is allowlisted and "
                                        "its blacklist entries lifted.")),
    "reject": (appeals.appeal_reject, _("Appeal #%(id)s rejected: the identity stays blocked.")),
}
