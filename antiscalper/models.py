"""Blacklist, allowlist and appeals: who may not buy, who was cleared, and who asked.

(Below them, the risk engine's tables: AttemptSignal, RuleSetting, RiskPolicy and
RiskDecision; antiscalper.rules explains how they are used.)

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
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.names import account_named


def sale_named(record) -> str:
    """A record's sale by title where the query that read it annotated `sale_title` (the
    sales app's admin does: this app sits below sales and cannot look a title up), else by
    number."""
    title = getattr(record, "sale_title", None)
    return title if title else f"sale {record.sale_id}"


class Kind(models.TextChoices):
    """The identities a buyer shows us; each has its own mirror set `bl:<kind>`."""

    ACCOUNT = "account", _("Account (user id)")
    DEVICE = "device", _("Device id")
    IP = "ip", _("IP address")
    PHONE = "phone", _("Phone number")
    ADDRESS = "address", _("Delivery address")
    PAYMENT = "payment", _("Payment instrument")


class Source(models.TextChoices):
    MANUAL = "manual", _("Manual (ops)")
    RULE = "rule", _("Risk rule")
    IMPORT = "import", _("CSV import")


def live_q(now: datetime) -> Q:
    """Entries that count right now: active and not expired."""
    return Q(is_active=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class ListEntry(models.Model):
    """One identity on a list: kind + normalised value, why, by whom, until when."""

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    value = models.CharField(pgettext_lazy("of an identity", "value"),
                             max_length=300, help_text=_(
        "Normalised: account = user id; phone = digits; ip = canonical address; "
        "address = 'line1|city|postcode'; device and payment = the opaque id."))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices,
                              default=Source.MANUAL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True,
                                      help_text=_("Empty: until someone deactivates it."))
    is_active = models.BooleanField(_("is active"), default=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class BlacklistEntry(ListEntry):
    """An identity that may not buy while the entry is active and unexpired."""

    class Meta(ListEntry.Meta):
        verbose_name = _("blacklist entry")
        verbose_name_plural = _("blacklist")
        permissions = [("export_blacklistentry", "Can export blacklist entries (CSV/XLSX)"),
                       ("import_blacklistentry", "Can import blacklist entries (CSV/XLSX)")]
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], condition=Q(is_active=True),
                                    name="blacklist_one_active_per_identity"),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="blacklist_identity")]


class AllowlistEntry(ListEntry):
    """An identity cleared by ops (often an upheld appeal): it overrides the blacklist."""

    class Meta(ListEntry.Meta):
        verbose_name = _("allowlist entry")
        verbose_name_plural = _("allowlist")
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], condition=Q(is_active=True),
                                    name="allowlist_one_active_per_identity"),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="allowlist_identity")]


class Appeal(models.Model):
    """A shopper's request to be cleared; a person upholds (allowlists) or rejects it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        UPHELD = "upheld", _("Upheld")
        REJECTED = "rejected", _("Rejected")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="appeals", verbose_name=_("user"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices,
                            default=Kind.ACCOUNT)
    value = models.CharField(pgettext_lazy("of an identity", "value"),
                             max_length=300)
    entry = models.ForeignKey(BlacklistEntry, on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="appeals", verbose_name=_("entry"),
                              help_text=_("The blacklist entry that was active when it "
                                          "arrived."))
    message = models.TextField(_("message"), max_length=2000)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.OPEN, db_index=True)
    resolution = models.CharField(_("resolution"), max_length=200, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+",
                                   verbose_name=_("handled by"))
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name, verbose_name_plural = _("appeal"), _("appeals")
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "value"],
                                    condition=Q(status="open"),
                                    name="appeal_one_open_per_identity"),
        ]

    def __str__(self) -> str:
        return f"Appeal #{self.pk} {self.kind}:{self.value} ({self.status})"


# --- Risk engine: signals, rule settings, decisions (see antiscalper.rules) -----------------


class AttemptSignal(models.Model):
    """One attempt the gate saw (purchase, reservation, F-code), kept for analysis and linking.

    Written in bulk by `attempts.attempts_record`; plain id columns (no foreign keys) because
    sales sit above this app and the rows arrive thousands at a time.
    """

    sale_id = models.PositiveBigIntegerField()
    user_id = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=12)
    at = models.DateTimeField()
    ms_since_open = models.BigIntegerField()
    device = models.CharField(max_length=64, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    subnet = models.CharField(max_length=50, blank=True, help_text="/24 (IPv4) or /64 (IPv6)")
    user_agent = models.CharField(max_length=300, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    reserved = models.BooleanField(default=False)
    verdict = models.CharField(max_length=30)
    ticket = models.CharField(max_length=64, blank=True)
    address_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name, verbose_name_plural = _("attempt signal"), _("attempt signals")
        # The last three serve antiscalper.lookback: an account's, a device's and an IP's
        # past across sales.
        indexes = [models.Index(fields=["sale_id", "user_id"], name="attempt_sale_user"),
                   models.Index(fields=["sale_id", "verdict"], name="attempt_sale_verdict"),
                   models.Index(fields=["user_id", "at"], name="attempt_user_at"),
                   models.Index(fields=["device", "at"], name="attempt_device_at"),
                   models.Index(fields=["ip", "at"], name="attempt_ip_at")]

    def __str__(self) -> str:
        return f"{self.kind} by {account_named(self)} in {sale_named(self)}: {self.verdict}"


class Action(models.TextChoices):
    SCORE = "score", _("Add the weight to the score")
    REVIEW = "review", _("Flag for review when it fires")
    BLOCK = "block", _("Block when it fires")


class RuleSetting(models.Model):
    """The data half of a rule (the code half is antiscalper.rules.RULES[code])."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    threshold = models.FloatField(_("threshold"),
                                  help_text=_("See the rule's description for its unit."))
    weight = models.FloatField(_("weight"),
                               help_text=_("Points added to the score when the rule fires."))
    action = models.CharField(_("action"), max_length=10, choices=Action.choices,
                              default=Action.SCORE)
    description = models.CharField(_("description"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name, verbose_name_plural = _("rule setting"), _("rule settings")

    def __str__(self) -> str:
        return self.code


class RiskPolicy(models.Model):
    """The decision thresholds: one row (pk 1), edited in admin."""

    review_score = models.FloatField(_("review score"), default=40)
    block_score = models.FloatField(_("block score"), default=70)
    ip_cap = models.FloatField(_("ip cap"), default=30, help_text=_(
        "Most points the IP-only rules may add together; the engine also keeps it below "
        "the block score, so an IP alone never blocks."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("risk policy")
        verbose_name_plural = _("risk policy")

    def __str__(self) -> str:
        return f"review >= {self.review_score}, block >= {self.block_score}"


class Decision(models.TextChoices):
    ALLOW = "allow", _("Allow")
    REVIEW = "review", _("Review")
    BLOCK = "block", _("Block")


class RiskDecision(models.Model):
    """One explained decision: score, verdict and every rule that fired with its value."""

    class Source(models.TextChoices):
        REALTIME = "realtime", _("Realtime (per ticket)")
        LINKING = "linking", _("Linking (per account)")

    class Review(models.TextChoices):
        OPEN = "open", _("Open")
        CONFIRMED = "confirmed", _("Confirmed and blacklisted")
        CLEARED = "cleared", _("False positive, allowlisted")

    sale_id = models.PositiveBigIntegerField(_("sale id"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+", verbose_name=_("user"))
    ticket = models.CharField(_("ticket"), max_length=64, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices,
                              default=Source.REALTIME)
    device = models.CharField(_("device"), max_length=64, blank=True)
    ip = models.CharField(_("ip"), max_length=45, blank=True)
    score = models.FloatField(pgettext_lazy("of a decision", "score"), default=0)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    rules = models.JSONField(_("rules"), default=list, blank=True, help_text=_(
        "The rules that fired: code, value, threshold, weight, action (and details)."))
    review_status = models.CharField(_("review status"), max_length=10, choices=Review.choices,
                                     default=Review.OPEN)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                    null=True, blank=True, related_name="+",
                                    verbose_name=_("reviewed by"))
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name, verbose_name_plural = _("risk decision"), _("risk decisions")
        constraints = [
            models.UniqueConstraint(fields=["ticket"], condition=~Q(ticket=""),
                                    name="riskdecision_one_per_ticket"),
        ]
        indexes = [models.Index(fields=["sale_id", "decision"], name="riskdecision_sale")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.decision} for {account_named(self)} in {sale_named(self)}"

    def rule_codes(self) -> list[str]:
        return [rule["code"] for rule in self.rules]


class RingCase(models.Model):
    """One linking cluster of a sale as ops review it: the members the linking pass tied
    together, the identifiers that tie them, and one answer for all of them.

    Written by the linking pass (`antiscalper.cases.cases_record`) for every cluster large
    enough to be flagged; confirmed or cleared by ops in admin (`cases.case_confirm`,
    `cases.case_clear`), each answer once. `links` keeps each identifier as linking holds it
    (`value`, the one a cleared case keeps out of the next pass) and as ops may see it
    (`shown`: a card only by its fingerprint's prefix); only `shown` is ever displayed.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CONFIRMED = "confirmed", _("Confirmed: members blocked")
        CLEARED = "cleared", _("Cleared: members allowed")

    sale_id = models.PositiveBigIntegerField(_("sale id"))
    members = models.JSONField(default=list, help_text="User ids, ascending.")
    links = models.JSONField(default=list, blank=True, help_text=(
        "kind, value (as linking holds it), shown (as ops see it), members, strength."))
    strength = models.FloatField(_("strength"), default=0)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.OPEN)
    acted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                 null=True, blank=True, related_name="+",
                                 verbose_name=_("acted by"))
    acted_at = models.DateTimeField(_("acted at"), null=True, blank=True)
    history = models.JSONField(default=list, blank=True, help_text=(
        "Each answer: status before and after, who, when, each member's decision before."))
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        ordering = ["sale_id", "-id"]
        verbose_name, verbose_name_plural = _("ring case"), _("ring cases")
        permissions = [("act_on_case", "Can confirm or clear a ring case")]
        indexes = [models.Index(fields=["sale_id", "status"], name="ringcase_sale_status")]

    def __str__(self) -> str:
        return f"Case #{self.pk} of {sale_named(self)} ({len(self.members)} accounts)"
