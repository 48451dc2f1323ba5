"""Blacklist, allowlist and appeals: who may not buy, who was cleared, and who asked.

Both lists share one shape (`ListEntry`) but are two tables: they have separate admin pages,
separate permissions (clearing someone is not the same right as blocking someone) and the
API exposes only the blacklist. The Redis mirror (antiscalper.mirror) holds, per kind, the
live blacklist values minus the live allowlist values. At most one *active* entry exists
per (kind, value) in each list (a partial unique constraint), so adding a listed identity
again updates that entry instead of piling up duplicates; inactive entries are history.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q


class Kind(models.TextChoices):
    """The identities a buyer shows us; each has its own mirror set `bl:<kind>`."""

    ACCOUNT = "account", "Account (user id)"
    DEVICE = "device", "Device id"
    IP = "ip", "IP address"
    PHONE = "phone", "Phone number"
    ADDRESS = "address", "Delivery address"
    PAYMENT = "payment", "Payment instrument"


class Source(models.TextChoices):
    MANUAL = "manual", "Manual (ops)"
    RULE = "rule", "Risk rule"
    IMPORT = "import", "CSV import"


def live_q(now: datetime) -> Q:
    """Entries that count right now: active and not expired."""
    return Q(is_active=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class ListEntry(models.Model):
    """One identity on a list: kind + normalised value, why, by whom, until when."""

    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=300, help_text=(
        "Normalised: account = user id; phone = digits; ip = canonical address; "
        "address = 'line1|city|postcode'; device and payment = the opaque id."))
    reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True,
                                      help_text="Empty: until someone deactivates it.")
    is_active = models.BooleanField(default=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def is_live(self, now: datetime) -> bool:
        return self.is_active and not self.is_expired(now)


class BlacklistEntry(ListEntry):
    """An identity that may not buy while the entry is active and unexpired."""

    class Meta(ListEntry.Meta):
        verbose_name = "blacklist entry"
        verbose_name_plural = "blacklist"
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], condition=Q(is_active=True),
                                    name="blacklist_one_active_per_identity"),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="blacklist_identity")]


class AllowlistEntry(ListEntry):
    """An identity cleared by ops (often an upheld appeal): it overrides the blacklist."""

    class Meta(ListEntry.Meta):
        verbose_name = "allowlist entry"
        verbose_name_plural = "allowlist"
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], condition=Q(is_active=True),
                                    name="allowlist_one_active_per_identity"),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="allowlist_identity")]


class Appeal(models.Model):
    """A shopper's request to be cleared; a person upholds (allowlists) or rejects it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        UPHELD = "upheld", "Upheld"
        REJECTED = "rejected", "Rejected"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="appeals")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ACCOUNT)
    value = models.CharField(max_length=300)
    entry = models.ForeignKey(BlacklistEntry, on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="appeals",
                              help_text="The blacklist entry that was active when it arrived.")
    message = models.TextField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN,
                              db_index=True)
    resolution = models.CharField(max_length=200, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    handled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "value"],
                                    condition=Q(status="open"),
                                    name="appeal_one_open_per_identity"),
        ]

    def __str__(self) -> str:
        return f"Appeal #{self.pk} {self.kind}:{self.value} ({self.status})"
