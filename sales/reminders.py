"""Writes of "remind me" (开售提醒): a shopper asks to be texted before a sale opens, and the
sender texts each such reminder once per opening (reads are in `sales.selectors`).

Setting and cancelling are idempotent: one row per account and sale (unique), so pressing
twice, or a PUT sent twice, leaves one reminder; cancelling one that is not there is no error.
Cancelling keeps the row (`cancelled_at`) and setting again revives it, so a reminder already
texted for an opening is not texted again however often it is cancelled and set.
A reminder is refused once the sale has opened (409 `already_open`): there is nothing left to
announce, whether it is live, sold out or over.

Sending (`reminders_send_due`, beat every 30 s on the housekeeping queue) claims due rows with
a conditional UPDATE on the row's own columns (its lease is free and it was not sent for the
sale's current opening), so two ticks or two workers never claim one row twice, on PostgreSQL
(whose re-check of a row another sender just changed reads those same columns) as on SQLite
(one writer at a time). Each row's lease is taken afresh just before its text (a row another
sender took over, or the shopper cancelled, since is skipped), and each text is marked sent
right after the backend takes it, one by one: a sender killed mid-batch leaves the rest of
its claim to lapse after REMINDER_LEASE_SECONDS, and the next tick texts them, still before
the opening with the defaults (5 minutes ahead, a one-minute lease). The one text such a
sender may have handed over in the instant before it died (or one a provider held for longer
than a lease) is texted again; no sender can know otherwise of a provider without
idempotency keys.

A sale moved to another time is announced at its new time: `sent_for` records the opening a
text named, and a reminder is due again when the sale's opening is no longer that one.
Blacklisted accounts are reminded like anyone: the gate refuses them at the opening (with the
blocked page and its appeal), and a missing text would only tell a scalper it was spotted.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.errors import DomainError, ErrorCode, not_found
from core.sentences import when
from sales.models import FlashSale, Reminder
from shop import sms
from shop.models import Customer

log = logging.getLogger(__name__)
TEXT_LANGUAGE = "zh-hans"  # a shopper whose language is not known reads the store's own
BATCH = 200


def _languages() -> set[str]:
    return {code for code, _name in settings.LANGUAGES}


def reminder_set(*, sale_id: int, user_id: int, language: str = "",
                 now: datetime | None = None) -> tuple[Reminder, bool]:
    """Ask to be texted before the sale opens; (reminder, created). Pressing again keeps the
    one reminder (and the language it was last pressed in)."""
    now = now or timezone.now()
    language = language if language in _languages() else ""
    with transaction.atomic():
        sale = FlashSale.objects.filter(pk=sale_id).only("pk", "starts_at", "ends_at").first()
        if sale is None:
            raise not_found("sale")
        if now >= sale.starts_at:
            raise DomainError(ErrorCode.ALREADY_OPEN, "The sale has already opened: there is "
                              "nothing to remind you of.", details={
                                  "starts_at": sale.starts_at.isoformat(),
                                  "ends_at": sale.ends_at.isoformat()})
        if not Customer.objects.filter(user_id=user_id).exists():
            raise not_found("customer profile")  # no phone to text
        reminder, created = Reminder.objects.get_or_create(
            sale_id=sale_id, user_id=user_id, defaults={"language": language})
        if not created:
            revived = reminder.cancelled_at is not None
            changes = {"cancelled_at": None} if revived else {}
            if language and reminder.language != language:
                changes["language"] = language
            if changes:
                Reminder.objects.filter(pk=reminder.pk).update(**changes)
                for field, value in changes.items():
                    setattr(reminder, field, value)
            created = revived  # a cancelled reminder set again is set anew
    return reminder, created


def reminder_cancel(*, sale_id: int, user_id: int) -> bool:
    """Cancel this account's reminder of the sale (only its own: there is no other to name);
    False when there was none."""
    with transaction.atomic():
        if not FlashSale.objects.filter(pk=sale_id).exists():
            raise not_found("sale")
        cancelled = Reminder.objects.filter(sale_id=sale_id, user_id=user_id,
                                            cancelled_at__isnull=True).update(
            cancelled_at=timezone.now())
    return bool(cancelled)


@dataclass(frozen=True)
class _Due:
    pk: int
    sale_id: int
    starts_at: datetime


def _due(now: datetime, limit: int) -> list[_Due]:
    """Reminders of sales opening within the lead (and not open for longer than the late
    cut-off, nor over), not yet sent for that opening, nobody texting them now."""
    lead = timedelta(seconds=settings.REMINDER_LEAD_SECONDS)
    late = timedelta(seconds=settings.REMINDER_LATE_SECONDS)
    stale = now - timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    rows = (Reminder.objects.filter(cancelled_at__isnull=True, sale__starts_at__lte=now + lead,
                                    sale__starts_at__gt=now - late, sale__ends_at__gt=now)
            .filter(Q(sent_for__isnull=True) | ~Q(sent_for=F("sale__starts_at")))
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lte=stale))
            .order_by("sale__starts_at", "pk")
            .values_list("pk", "sale_id", "sale__starts_at")[:limit])
    return [_Due(*row) for row in rows]


def _claim(due: list[_Due], token: str, now: datetime) -> int:
    """Take the lease on the due rows nobody took since they were read: the WHERE is on the
    row's own columns (free lease, not sent for this opening), so of two senders one wins."""
    stale = now - timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    claimed = 0
    for starts_at in {row.starts_at for row in due}:
        pks = [row.pk for row in due if row.starts_at == starts_at]
        with transaction.atomic():
            claimed += (Reminder.objects.filter(pk__in=pks, cancelled_at__isnull=True)
                        .filter(Q(sent_for__isnull=True) | ~Q(sent_for=starts_at))
                        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lte=stale))
                        .update(claim=token, claimed_at=now))
    return claimed


def reminder_text(*, title: str, starts_at: datetime, language: str,
                  now: datetime) -> str:
    """The text a reminder sends, in the shopper's language (Chinese when not known), with
    the opening in the shopper's words ("12月2日 10:00")."""
    with translation.override(language if language in _languages() else TEXT_LANGUAGE):
        moment = when(starts_at)
        if now < starts_at:
            return _("Mi Store: %(title)s goes on sale at %(when)s. You asked us to remind "
                     "you; be ready!") % {"title": title, "when": moment}
        return _("Mi Store: %(title)s went on sale at %(when)s. Be quick, stock is "
                 "limited!") % {"title": title, "when": moment}


def reminders_send_due(*, now: datetime | None = None, batches: int = 50) -> int:
    """Text every due reminder once (see the module); how many were texted. Beat runs it
    every 30 seconds; several at once share the work. A backend that fails ends the call:
    the rest of the claim lapses with its lease and a later tick tries again."""
    sent = 0
    for _batch in range(batches):
        moment = now or timezone.now()
        due = _due(moment, BATCH)
        if not due:
            break
        token = uuid.uuid4().hex
        if not _claim(due, token, moment):
            continue  # another sender took them between the read and the claim
        texted, complete = _send_claimed(token, moment, clock=(lambda: now) if now
                                         else timezone.now)
        sent += texted
        if not complete:
            break
    return sent


def _send_claimed(token: str, now: datetime, clock) -> tuple[int, bool]:
    """Text the rows this sender claimed, marking each sent as soon as the backend took it;
    (texted, whether the backend took them all). At the first refusal the sender stops and
    keeps the lease on what is left: a later tick tries them once it lapses.

    Each row's lease is taken afresh (`clock`) just before its text: a sender slow enough
    for the batch's lease to lapse under it skips the rows another sender has taken over
    since, instead of texting them a second time."""
    rows = (Reminder.objects.filter(claim=token)
            .select_related("sale", "user__customer").order_by("pk"))
    backend, sent = sms.backend(), 0
    for reminder in rows:
        sale, customer = reminder.sale, getattr(reminder.user, "customer", None)
        if customer is None:  # no phone any more: nothing to text, never again for this one
            Reminder.objects.filter(pk=reminder.pk, claim=token).update(
                claim="", claimed_at=None, sent_at=now, sent_for=sale.starts_at)
            continue
        if not Reminder.objects.filter(pk=reminder.pk, claim=token,
                                       cancelled_at__isnull=True).update(claimed_at=clock()):
            continue  # the lease lapsed and another sender took it over, or it was cancelled
        try:
            backend.send(phone=customer.phone, message=reminder_text(
                title=sale.title, starts_at=sale.starts_at, language=reminder.language,
                now=now))
        except Exception:
            log.exception("SMS backend failed for reminder %s", reminder.pk)
            return sent, False
        sent += Reminder.objects.filter(pk=reminder.pk, claim=token).update(
            claim="", claimed_at=None, sent_at=now, sent_for=sale.starts_at)
    return sent, True
