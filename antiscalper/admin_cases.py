"""Ops admin for ring cases: the review queue's cases, a case's page, and its one answer.

Imported by antiscalper.admin. The list shows each sale's cases, open ones first; a case's
page shows its members (by username), their decisions with explanations, the identifiers
that tie them (a card only by its fingerprint's prefix) and a small graph. Confirming or
clearing is a confirmation page (GET) and then a POST to its own address (CSRF-protected;
any other method is refused), through antiscalper.cases; it needs `act_on_case` (and, to
confirm, the right to add to the blacklist, which confirming writes to).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from antiscalper import cases, selectors
from antiscalper.case_graph import case_svg
from antiscalper.models import RingCase
from core.errors import DomainError

VERBS = {"confirm": cases.case_confirm, "clear": cases.case_clear}
KINDS_SUMMED = ("building", "address", "payment", "device", "verified_phone", "phone",
                "phone_block")
NAMES_LISTED = 8
# What ties a case's members, as ops read it (the kinds stay codes in the case's links).
LINK_KINDS = {"building": _("building"), "address": _("address"), "payment": _("card"),
              "device": _("device"), "verified_phone": _("verified phone"),
              "phone": _("phone"), "phone_block": _("phone number block")}
# The answer's verb in the page's words: its confirmation page's title and its button.
ASKED = {"confirm": (_("Confirm %(case)s?"), _("Yes, confirm %(case)s")),
         "clear": (_("Clear %(case)s?"), _("Yes, clear %(case)s"))}


def kind_named(kind: str) -> str:
    return str(LINK_KINDS.get(kind, kind))


def _summary(case: RingCase) -> str:
    """The shared building, card or device at a glance: each kind's strongest link."""
    best: dict[str, dict] = {}
    for link in case.links:
        if link["kind"] in KINDS_SUMMED and (link["kind"] not in best or len(
                link["members"]) > len(best[link["kind"]]["members"])):
            best[link["kind"]] = link
    return "; ".join(f"{kind_named(kind)} {best[kind]['shown']} ({len(best[kind]['members'])})"
                     for kind in KINDS_SUMMED if kind in best) or "-"


def _shown_links(case: RingCase, names: dict[int, str]) -> list[dict]:
    """The case's links as ops may read them (never the value linking holds)."""
    return [{"kind": kind_named(link["kind"]), "code": link["kind"], "shown": link["shown"],
             "strength": link["strength"], "members": link["members"],
             "usernames": [names.get(u) or _account(u) for u in link["members"]]}
            for link in case.links]


def _status(status: str) -> str:
    return RingCase.Status(status).label if status in RingCase.Status.values else status


def _account(user_id: int) -> str:
    return gettext("account %(id)s") % {"id": user_id}


class CaseChangeList(ChangeList):
    def get_results(self, request) -> None:
        super().get_results(request)
        names = selectors.usernames(user_ids={u for c in self.result_list for u in c.members})
        for case in self.result_list:
            case.usernames = [names.get(u) or _account(u) for u in case.members]


@admin.register(RingCase)
class RingCaseAdmin(admin.ModelAdmin):
    list_display = ["id", "sale_id", "status", "size", "shared", "accounts", "acted_by",
                    "updated_at"]
    list_filter = ["sale_id", "status"]
    list_select_related = ["acted_by"]
    search_fields = ["=sale_id"]

    def get_queryset(self, request):
        return selectors.case_list()

    def get_ordering(self, request):
        return ["-sale_id", "open_first", "-id"]

    def get_changelist(self, request, **kwargs):
        return CaseChangeList

    @admin.display(description=_("members"))
    def size(self, obj: RingCase) -> int:
        return len(obj.members)

    @admin.display(description=_("shared building, card, device"))
    def shared(self, obj: RingCase) -> str:
        return _summary(obj)

    @admin.display(description=_("accounts"))
    def accounts(self, obj: RingCase) -> str:
        names = getattr(obj, "usernames", None) or [str(u) for u in obj.members]
        more = len(names) - NAMES_LISTED
        listed = ", ".join(names[:NAMES_LISTED])
        return (gettext("%(listed)s and %(n)s more") % {"listed": listed, "n": more}
                if more > 0 else listed)

    def sale_label(self, sale_id: int) -> str:
        """The sale as the case's pages name it (sales.admin_names names it by its title)."""
        return gettext("sale %(id)s") % {"id": sale_id}

    def sale_name(self, sale_id: int) -> str:
        """The sale in a page's title, plain text (sales.admin_names: by its title)."""
        return gettext("sale %(id)s") % {"id": sale_id}

    def has_add_permission(self, request) -> bool:
        return False  # cases come from the linking pass

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a case is answered (confirm, clear), never edited

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a case is evidence: why a ring's orders were cancelled, who said so

    def has_act_permission(self, request, verb: str) -> bool:
        needed = ["antiscalper.act_on_case"]
        if verb == "confirm":
            needed.append("antiscalper.add_blacklistentry")
        return request.user.has_perms(needed)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        urls = []
        for verb in VERBS:
            urls += [
                path(f"sale/<int:sale_id>/<int:case_id>/{verb}/",
                     wrap(require_GET(self._ask(verb))), name=f"antiscalper_ringcase_{verb}"),
                path(f"sale/<int:sale_id>/<int:case_id>/{verb}/do/",
                     wrap(require_POST(self._act(verb))),
                     name=f"antiscalper_ringcase_{verb}_do"),
            ]
        return [*urls, *super().get_urls()]

    def _case(self, request, sale_id: int, case_id: int) -> RingCase:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            return selectors.case_get(sale_id=sale_id, case_id=case_id)
        except DomainError as error:
            raise Http404(gettext("No such case in this sale.")) from error

    def _page(self, case: RingCase) -> str:
        return reverse("admin:antiscalper_ringcase_change", args=[case.pk])

    def _context(self, request, case: RingCase, title: str) -> dict:
        members = selectors.case_members(case=case)
        names = {m["user_id"]: m["username"] for m in members}
        links = _shown_links(case, names)
        actors = selectors.usernames(user_ids={h["by"] for h in case.history if h["by"]})
        return {**self.admin_site.each_context(request), "opts": self.model._meta,
                "title": title, "case": case, "case_name": self.case_name(case),
                "sale_label": self.sale_label(case.sale_id),
                "members": members, "links": links,
                "pending": [m for m in members if m["pending"]],
                "graph": case_svg(members=list(names.items()), links=links),
                "history": [{**h, "by": actors.get(h["by"]) or gettext("system"),
                             "from": _status(h["from"]), "to": _status(h["to"])}
                            for h in case.history],
                "can": {verb: case.status == RingCase.Status.OPEN
                        and self.has_act_permission(request, verb) for verb in VERBS}}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The case's page (read-only: answers go through the confirmation pages)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        case = RingCase.objects.filter(pk=int(object_id)).first() \
            if str(object_id).isdigit() else None
        if case is None:
            raise Http404(gettext("No such case."))
        return TemplateResponse(request, "admin/antiscalper/ringcase/case.html",
                                self._context(request, case, self.case_name(case)))

    def case_name(self, case: RingCase) -> str:
        """A case as its pages and messages name it (its sale by title where sales.admin_names
        names sales), in the page's language."""
        return gettext("Case #%(id)s of %(sale)s (%(n)s accounts)") % {
            "id": case.pk, "sale": self.sale_name(case.sale_id), "n": len(case.members)}

    def _ask(self, verb: str):
        def ask(request, sale_id: int, case_id: int):
            case = self._case(request, sale_id, case_id)
            if not self.has_act_permission(request, verb):
                raise PermissionDenied
            if case.status != RingCase.Status.OPEN:
                self._already(request, case)
                return HttpResponseRedirect(self._page(case))
            title, button = ASKED[verb]
            named = {"case": self.case_name(case)}
            context = self._context(request, case, title % named)
            context |= {"verb": verb, "button": button % named,
                        "seen": ",".join(str(u) for u in case.members),
                        "action_url": reverse(f"admin:antiscalper_ringcase_{verb}_do",
                                              args=[sale_id, case_id])}
            return TemplateResponse(request, "admin/antiscalper/ringcase/confirm.html",
                                    context)
        return ask

    def _act(self, verb: str):
        def act(request, sale_id: int, case_id: int):
            case = self._case(request, sale_id, case_id)
            if not self.has_act_permission(request, verb):
                raise PermissionDenied
            raw = request.POST.get("members", "")
            seen = [int(u) for u in raw.split(",") if u.strip().isdigit()] if raw else None
            try:
                done = VERBS[verb](sale_id=sale_id, case_id=case_id, actor_id=request.user.pk,
                                   seen=seen)
            except DomainError as error:
                if error.code == "not_found":
                    raise Http404(gettext("No such case in this sale.")) from error
                self.message_user(request, error.message, messages.ERROR)
                return HttpResponseRedirect(self._page(case))
            case.refresh_from_db()
            if done is None:
                self._already(request, case)
            elif verb == "confirm":
                self.message_user(request, gettext(
                    "Confirmed %(case)s: %(n)s member(s) blocked and blacklisted; their "
                    "unshipped orders are cancelled by the next linking pass (within a minute).")
                    % {"case": self.case_name(case), "n": len(done)}, messages.SUCCESS)
            else:
                self.message_user(request, gettext(
                    "Cleared %(case)s: %(n)s member(s) allowed; its links no longer tie them.")
                    % {"case": self.case_name(case), "n": len(done)}, messages.SUCCESS)
            return HttpResponseRedirect(self._page(case))
        return act

    def _already(self, request, case: RingCase) -> None:
        self.message_user(request, gettext("%(case)s was already answered: %(status)s.")
                          % {"case": self.case_name(case), "status": case.get_status_display()},
                          messages.WARNING)
