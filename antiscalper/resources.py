"""CSV import and export of the blacklist (django-import-export), through the services.

Export writes every entry. Import reads `kind, value, reason, expires_at` (other columns of
an export, such as id, source, is_active, are ignored), normalises each value as the API
does, and lists it with `source=import` through `services.blacklist_add`, which also
audits the change and updates the Redis mirror after commit. A row matching an active entry
updates it (longer expiry wins, a new reason replaces the old one) and an unchanged row is
skipped, so importing an export again changes nothing. Rows exported as inactive or already
expired are skipped: an import only ever adds or lengthens blocks.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from import_export import fields, resources, widgets

from antiscalper import services
from antiscalper.identities import value_normalize
from antiscalper.models import BlacklistEntry, Source
from core.errors import DomainError

FALSE_WORDS = {"0", "false", "no", "n", "f", "off"}


class IsoDateTimeWidget(widgets.Widget):
    """ISO 8601 with the zone and microseconds, so that an export re-imports exactly."""

    def clean(self, value, row=None, **kwargs):
        if value in (None, ""):
            return None
        parsed = parse_datetime(str(value).strip())
        if parsed is None:
            raise ValueError(f"{value!r} is not an ISO 8601 date and time.")
        return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed

    def render(self, value, obj=None, **kwargs):
        return timezone.localtime(value).isoformat() if value else ""


class BlacklistEntryResource(resources.ModelResource):
    id = fields.Field(attribute="id", column_name="id", readonly=True)
    expires_at = fields.Field(attribute="expires_at", column_name="expires_at",
                              widget=IsoDateTimeWidget())
    source = fields.Field(attribute="source", column_name="source", readonly=True)
    is_active = fields.Field(attribute="is_active", column_name="is_active", readonly=True,
                             widget=widgets.BooleanWidget())
    created_by = fields.Field(attribute="created_by__username", column_name="created_by",
                              readonly=True)
    created_at = fields.Field(attribute="created_at", column_name="created_at",
                              readonly=True, widget=IsoDateTimeWidget())

    class Meta:
        model = BlacklistEntry
        fields = ("id", "kind", "value", "reason", "expires_at", "source", "is_active",
                  "created_by", "created_at")
        export_order = fields
        import_id_fields = ("kind", "value")
        skip_unchanged = True
        report_skipped = True
        use_transactions = True
        clean_model_instances = False

    def get_queryset(self):
        return BlacklistEntry.objects.select_related("created_by")

    def get_instance(self, instance_loader, row):
        """A row matches its identity's active entry (history rows are never updated)."""
        return BlacklistEntry.objects.filter(kind=row["kind"], value=row["value"],
                                             is_active=True).first()

    def before_import_row(self, row, **kwargs):
        kind = str(row.get("kind") or "").strip().lower()
        try:
            row["value"] = value_normalize(kind=kind, value=str(row.get("value") or ""))
        except DomainError as error:
            raise ValidationError({name: messages for name, messages in error.details.items()
                                   if isinstance(messages, list)} or error.message) from None
        row["kind"] = kind
        row["reason"] = str(row.get("reason") or "").strip()

    def after_init_instance(self, instance, new, row, **kwargs):
        instance._listed = None if new else (instance.expires_at, instance.reason)

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if instance._listed:  # an active entry exists: merge as services.blacklist_add does
            until, reason = instance._listed
            instance.expires_at = services.expiry_later(until, instance.expires_at)
            instance.reason = instance.reason or reason

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if str(row.get("is_active", "")).strip().lower() in FALSE_WORDS:
            return True
        if instance.expires_at is not None and instance.expires_at <= timezone.now():
            return True
        return super().skip_row(instance, original, row, import_validation_errors)

    def save_instance(self, instance, is_create, row, **kwargs):
        user = kwargs.get("user")
        try:
            entry, _ = services.blacklist_add(
                kind=instance.kind, value=instance.value, reason=instance.reason,
                expires_at=instance.expires_at, source=Source.IMPORT,
                actor_id=getattr(user, "pk", None),
            )
        except DomainError as error:
            raise ValidationError(error.message) from None
        instance.pk = entry.pk
        instance.source, instance.is_active = entry.source, entry.is_active
