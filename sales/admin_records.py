"""Admin for the records of a sale (reservations, reminders, F-codes, draws, returned units,
rejected tickets): written by the services, read by ops, by username and sale title, never by
id.

Imported by sales.admin.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from antiscalper import selectors as risk_selectors
from core.names import NamesLoaded
from sales.models import Draw, FCode, RejectedTicket, Reminder, Reservation, StockReturn


@admin.register(Reservation)
class ReservationAdmin(NamesLoaded, admin.ModelAdmin):
    list_display = ["sale", "user", "created_at"]
    list_filter = ["sale"]
    list_select_related = ["sale", "user"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]


def deleted_account(user_id: int) -> str:
    return gettext("account %(id)s (deleted)") % {"id": user_id}


@admin.register(Reminder)
class ReminderAdmin(NamesLoaded, admin.ModelAdmin):
    """Who asked to be texted before a sale opens, and whether the text went: read-only (a
    reminder is the shopper's to set and cancel; ops only count and look)."""

    list_display = ["sale", "user", "language", "created_at", "sent_at", "sent_for",
                    "cancelled_at"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter),
                   ("cancelled_at", admin.EmptyFieldListFilter), "sale"]
    list_select_related = ["sale", "user"]
    search_fields = ["user__username"]
    readonly_fields = ["sale", "user", "language", "created_at", "sent_at", "sent_for",
                       "cancelled_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class RecordAdmin(admin.ModelAdmin):
    """A record the stock's counters and the tickets' decisions are built on: written by the
    services, read by ops, deleted by no one (a deleted StockReturn would give its units back
    twice; a deleted F-code or draw would let its unit or its draw be had again)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FCode)
class FCodeAdmin(NamesLoaded, RecordAdmin):
    list_display = ["sale", "user", "kind", "hint", "issued_at", "expires_at", "order",
                    "lapsed_at"]
    list_filter = ["kind", "sale"]
    list_select_related = ["sale", "user", "order"]
    search_fields = ["user__username", "hint"]
    readonly_fields = ["sale", "user", "kind", "code_hash", "hint", "issued_at", "expires_at",
                       "order", "lapsed_at"]

    # (codes are issued by the action on sales, so the plain code is shown once)


@admin.register(Draw)
class DrawAdmin(NamesLoaded, RecordAdmin):
    list_display = ["sale", "seed", "winner_count", "run_at", "run_by"]
    list_select_related = ["sale", "run_by"]
    readonly_fields = ["sale", "seed", "entrants", "winner_names", "waitlist_names", "run_at",
                       "run_by"]

    # The draw keeps user ids (its record, replayable); a person reads them as usernames.
    def _names(self, obj: Draw) -> dict[int, str]:
        if getattr(obj, "_usernames", None) is None:
            ids = {entry[1] for entry in obj.entries} | set(obj.winners) | set(obj.waitlist)
            obj._usernames = risk_selectors.usernames(user_ids=ids)
        return obj._usernames

    def _listed(self, obj: Draw, user_ids: list[int]) -> str:
        names = self._names(obj)
        return ", ".join(names.get(u) or deleted_account(u) for u in user_ids) or "-"

    @admin.display(description=_("winners"))
    def winner_count(self, obj: Draw) -> int:
        return len(obj.winners)

    @admin.display(description=_("entries (in order, with fan level)"))
    def entrants(self, obj: Draw) -> str:
        names = self._names(obj)
        return ", ".join(f"{names.get(user) or deleted_account(user)} (Lv{level})"
                         for _, user, level in obj.entries) or "-"

    @admin.display(description=_("winners (in the order drawn)"))
    def winner_names(self, obj: Draw) -> str:
        return self._listed(obj, obj.winners)

    @admin.display(description=_("waitlist"))
    def waitlist_names(self, obj: Draw) -> str:
        return self._listed(obj, obj.waitlist)


@admin.register(StockReturn)
class StockReturnAdmin(NamesLoaded, RecordAdmin):
    list_display = ["order", "sale", "quantity", "reason", "created_at"]
    list_filter = ["reason"]
    list_select_related = ["order", "sale"]
    readonly_fields = ["order", "sale", "quantity", "reason", "created_at"]


@admin.register(RejectedTicket)
class RejectedTicketAdmin(NamesLoaded, RecordAdmin):
    list_display = ["ticket", "sale", "account", "quantity", "reason", "created_at"]
    list_filter = ["reason"]
    list_select_related = ["sale"]
    search_fields = ["ticket"]
    readonly_fields = ["ticket", "sale", "account", "quantity", "reason", "created_at"]

    def get_queryset(self, request):
        """The account's username in the list's own query (the record keeps a plain id)."""
        username = get_user_model().objects.filter(pk=OuterRef("user_id")).values("username")
        return super().get_queryset(request).annotate(username=Subquery(username[:1]))

    @admin.display(description=_("account"), ordering="username")
    def account(self, obj: RejectedTicket) -> str:
        return obj.username or deleted_account(obj.user_id)
