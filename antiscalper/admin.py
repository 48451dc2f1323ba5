"""Ops admin for the blacklist and the allowlist; every write goes through services.

Services write the audit trail (admin LogEntry) themselves, so these admins switch off the
admin's own logging to avoid recording each change twice.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin

from antiscalper import services
from antiscalper.admin_identities import IdentityShown
from antiscalper.identities import value_normalize
from antiscalper.models import AllowlistEntry, BlacklistEntry, Source
from antiscalper.resources import BlacklistEntryResource
from core.errors import DomainError


class ExpiredFilter(admin.SimpleListFilter):
    title = _("expired")
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return [("yes", _("Expired")), ("no", _("Not expired"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(expires_at__lte=now)
        if self.value() == "no":
            return queryset.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        return queryset


class EntryForm(forms.ModelForm):
    """On add, the value is normalised as the API does; errors land on the field."""

    def clean(self):
        data = super().clean()
        if self.instance.pk or "kind" not in data:
            return data
        try:
            data["value"] = value_normalize(kind=data.get("kind", ""),
                                            value=data.get("value", ""))
        except DomainError as error:
            self.add_error("value" if "value" in error.details else "kind", error.message)
        expires_at = data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            self.add_error("expires_at", gettext("Must be in the future."))
        return data


def _report(modeladmin, request, done: int, total: int, done_as: str) -> None:
    modeladmin.message_user(request, done_as % {"n": done}, messages.SUCCESS)
    left = total - done
    if left:
        modeladmin.message_user(request, ngettext(
            "%(n)s entry unchanged: already so, never expiring, or covered by another active "
            "entry.", "%(n)s entries unchanged: already so, never expiring, or covered by "
            "another active entry.", left) % {"n": left}, messages.WARNING)


def _each(modeladmin, request, queryset, done_as, service, **kwargs) -> None:
    """`done_as`: the message for the entries changed, a function of how many."""
    ids = list(queryset.values_list("pk", flat=True))
    done = sum(1 for pk in ids if service(model=modeladmin.model, entry_id=pk,
                                          actor_id=request.user.pk, **kwargs))
    _report(modeladmin, request, done, len(ids), done_as(done))


@admin.action(description=_("Activate selected entries"), permissions=["change"])
def activate(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, lambda n: ngettext(
        "Activated %(n)s entry.", "Activated %(n)s entries.", n), services.entry_activate)


@admin.action(description=_("Deactivate selected entries"), permissions=["change"])
def deactivate(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, lambda n: ngettext(
        "Deactivated %(n)s entry.", "Deactivated %(n)s entries.", n), services.entry_deactivate)


@admin.action(description=format_lazy(_("Extend selected entries by {days} days"),
                                       days=services.EXTEND_DAYS), permissions=["change"])
def extend(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, lambda n: ngettext(
        "Extended %(n)s entry.", "Extended %(n)s entries.", n), services.entry_extend,
        days=services.EXTEND_DAYS)


class ListEntryAdmin(IdentityShown, admin.ModelAdmin):
    form = EntryForm
    list_display = ["kind", "identity", "reason", "source", "is_active", "expires_at", "expired",
                    "created_by", "created_at"]
    list_filter = ["kind", "source", "is_active", ExpiredFilter]
    search_fields = ["value", "reason", "created_by__username"]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"
    actions = [activate, deactivate, extend]

    @admin.display(boolean=True, description=_("expired"))
    def expired(self, obj) -> bool:
        return obj.is_expired(timezone.now())

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["kind", "value", "reason", "expires_at"]
        return ["kind", "identity", "reason", "expires_at", "is_active", "source",
                "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["kind", "identity", "source", "created_by", "created_at"] if obj else []

    def save_model(self, request, obj, form, change) -> None:
        """Through the services, which normalise, audit and update the mirror after commit."""
        actor_id, changed = request.user.pk, set(form.changed_data)
        if not change:
            entry, created = services.entry_add(
                model=self.model, kind=obj.kind, value=obj.value, reason=obj.reason,
                expires_at=obj.expires_at, source=Source.MANUAL, actor_id=actor_id)
            obj.pk = entry.pk
            if not created:
                self.message_user(request, gettext("This identity was already listed; that "
                                                   "entry was kept (longer expiry, new "
                                                   "reason)."), messages.WARNING)
            return
        if changed & {"reason", "expires_at"}:
            services.entry_edit(model=self.model, entry_id=obj.pk, reason=obj.reason,
                                expires_at=obj.expires_at, actor_id=actor_id)
        if "is_active" in changed:
            toggle = services.entry_activate if obj.is_active else services.entry_deactivate
            done = toggle(model=self.model, entry_id=obj.pk, actor_id=actor_id)
            if not done and obj.is_active:
                self.message_user(request, gettext("Not activated: another active entry "
                                                   "already covers this identity."),
                                  messages.WARNING)

    def delete_model(self, request, obj) -> None:
        services.entry_delete(model=self.model, entry_id=obj.pk, actor_id=request.user.pk)

    def delete_queryset(self, request, queryset) -> None:
        for pk in list(queryset.values_list("pk", flat=True)):
            services.entry_delete(model=self.model, entry_id=pk, actor_id=request.user.pk)

    # The services audit every change; the admin's own log entries would duplicate them.
    def log_addition(self, request, obj, message):
        return None

    def log_change(self, request, obj, message):
        return None

    def log_deletions(self, request, queryset):
        return None


@admin.register(BlacklistEntry)
class BlacklistEntryAdmin(ImportExportMixin, ListEntryAdmin):
    resource_classes = [BlacklistEntryResource]
    skip_admin_log = True  # the import goes through services.blacklist_add, which audits

    def has_import_permission(self, request) -> bool:
        """The import permission (IMPORT_EXPORT_IMPORT_PERMISSION_CODE) and the rights an
        import uses: it adds and lengthens entries."""
        return (super().has_import_permission(request) and self.has_add_permission(request)
                and self.has_change_permission(request))

    def has_export_permission(self, request) -> bool:
        """Reading the list on screen is not taking it away in bulk: export is its own right."""
        return super().has_export_permission(request) and self.has_view_permission(request)


@admin.register(AllowlistEntry)
class AllowlistEntryAdmin(ListEntryAdmin):
    pass


# Appeals, the risk engine's admins and the ring cases beside its review queue register
# themselves
from antiscalper import (  # noqa: E402,F401
    admin_appeals,
    admin_cases,
    admin_flags,
    admin_tuning,
)
