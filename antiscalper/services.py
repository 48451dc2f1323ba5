"""Writes on the blacklist and the allowlist; each one audited and mirrored (appeals:
`antiscalper.appeals`).

Every function here is one transaction. State changes are conditional updates (the row's
current state is in the WHERE), so racing ops or a racing risk rule change a row once.
After commit, each changed identity is re-mirrored into Redis (`mirror.mirror_sync`), so
the gate sees the change on the next purchase; a failed Redis write is logged, never undoes
the database change, and the periodic `mirror_rebuild` repairs it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from antiscalper import mirror
from antiscalper.audit import ADDED, CHANGED, DELETED, audit
from antiscalper.identities import value_normalize
from antiscalper.models import AllowlistEntry, BlacklistEntry, ListEntry, Source
from core.errors import invalid, not_found

EXTEND_DAYS = 30
MAX_REASON = 200


def _mirror_after_commit(kind: str, value: str) -> None:
    def blacklist_mirror_sync() -> None:  # a named function: Django logs failures by name
        mirror.mirror_sync(kind=kind, value=value)

    transaction.on_commit(blacklist_mirror_sync, robust=True)


def expiry_later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The longer of two expiries; None (never expires) beats any date."""
    return None if a is None or b is None else max(a, b)


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise invalid("The reason is too long.", reason=[f"at most {MAX_REASON} characters"])
    return reason


def _get(model: type[ListEntry], entry_id: int) -> ListEntry:
    entry = model.objects.filter(pk=entry_id).first()
    if entry is None:
        raise not_found(model._meta.verbose_name)
    return entry


def entry_add(*, model: type[ListEntry], kind: str, value: str, reason: str = "",
              expires_at: datetime | None = None, source: str = Source.MANUAL,
              actor_id: int | None = None, now: datetime | None = None,
              ) -> tuple[ListEntry, bool]:
    """List an identity; if it is already listed, keep that entry (longer expiry, new reason).

    Returns (entry, created). An expired-but-active entry is retired and replaced.
    """
    now = now or timezone.now()
    value, reason = value_normalize(kind=kind, value=value), _reason(reason)
    if expires_at is not None and expires_at <= now:
        raise invalid("expires_at must be in the future.", expires_at=["must be in the future"])
    for _ in range(3):
        with transaction.atomic():
            existing = model.objects.select_for_update().filter(
                kind=kind, value=value, is_active=True).first()
            if existing is not None and existing.is_expired(now):
                model.objects.filter(pk=existing.pk, is_active=True).update(is_active=False)
                audit(actor_id=actor_id, objects=[existing], action=CHANGED,
                      message="Deactivated: expired, replaced by a new entry.")
                existing = None
            if existing is not None:
                return _relist(existing, reason=reason, expires_at=expires_at,
                               source=source, actor_id=actor_id), False
            try:
                with transaction.atomic():
                    entry = model.objects.create(
                        kind=kind, value=value, reason=reason, source=source,
                        created_by_id=actor_id, expires_at=expires_at)
            except IntegrityError:
                continue  # a racing add of the same identity won; take its entry next time
            audit(actor_id=actor_id, objects=[entry], action=ADDED,
                  message=f"Added ({source}): {reason or 'no reason given'}.")
            _mirror_after_commit(kind, value)
            return entry, True
    raise invalid("This identity is being listed concurrently; retry.", value=["busy"])


def _relist(entry: ListEntry, *, reason: str, expires_at: datetime | None, source: str,
            actor_id: int | None) -> ListEntry:
    fields = {}
    later = expiry_later(entry.expires_at, expires_at)
    if later != entry.expires_at:
        fields["expires_at"] = later
    if reason and reason != entry.reason:
        fields["reason"] = reason
    if fields:
        type(entry).objects.filter(pk=entry.pk).update(**fields)
        for name, new in fields.items():
            setattr(entry, name, new)
        audit(actor_id=actor_id, objects=[entry], action=CHANGED,
              message=f"Listed again ({source}): {', '.join(sorted(fields))} updated.")
        _mirror_after_commit(entry.kind, entry.value)
    return entry


def entry_activate(*, model: type[ListEntry], entry_id: int,
                   actor_id: int | None = None) -> bool:
    """Re-activate an entry; False if it was active or another active entry covers it."""
    with transaction.atomic():
        entry = _get(model, entry_id)
        try:
            with transaction.atomic():
                changed = model.objects.filter(pk=entry_id, is_active=False) \
                    .update(is_active=True)
        except IntegrityError:
            return False
        if changed:
            audit(actor_id=actor_id, objects=[entry], action=CHANGED, message="Activated.")
            _mirror_after_commit(entry.kind, entry.value)
    return bool(changed)


def entry_deactivate(*, model: type[ListEntry], entry_id: int,
                     actor_id: int | None = None) -> bool:
    """Stop an entry from counting (kept as history); False if it was already inactive."""
    with transaction.atomic():
        entry = _get(model, entry_id)
        changed = model.objects.filter(pk=entry_id, is_active=True).update(is_active=False)
        if changed:
            audit(actor_id=actor_id, objects=[entry], action=CHANGED, message="Deactivated.")
            _mirror_after_commit(entry.kind, entry.value)
    return bool(changed)


def entry_extend(*, model: type[ListEntry], entry_id: int, days: int = EXTEND_DAYS,
                 actor_id: int | None = None, now: datetime | None = None) -> bool:
    """Push the expiry `days` past the later of now and the current expiry.

    False for entries that never expire (nothing to extend) or when a racing edit won.
    """
    if days < 1:
        raise invalid("Extend by at least one day.", days=["must be at least 1"])
    now = now or timezone.now()
    with transaction.atomic():
        entry = _get(model, entry_id)
        if entry.expires_at is None:
            return False
        until = max(entry.expires_at, now) + timedelta(days=days)
        changed = model.objects.filter(pk=entry_id, expires_at=entry.expires_at) \
            .update(expires_at=until)
        if changed:
            audit(actor_id=actor_id, objects=[entry], action=CHANGED,
                  message=f"Extended by {days} days to {until.isoformat()}.")
            _mirror_after_commit(entry.kind, entry.value)
    return bool(changed)


def entry_edit(*, model: type[ListEntry], entry_id: int, reason: str,
               expires_at: datetime | None, actor_id: int | None = None) -> bool:
    """Set an entry's reason and expiry as an ops person typed them (admin change form).

    False when nothing changed or a racing edit got there first.
    """
    reason = _reason(reason)
    with transaction.atomic():
        entry = _get(model, entry_id)
        if (reason, expires_at) == (entry.reason, entry.expires_at):
            return False
        changed = model.objects.filter(
            pk=entry_id, reason=entry.reason, expires_at=entry.expires_at,
        ).update(reason=reason, expires_at=expires_at)
        if changed:
            audit(actor_id=actor_id, objects=[entry], action=CHANGED,
                  message=f"Edited: reason {reason!r}, expires {expires_at or 'never'}.")
            _mirror_after_commit(entry.kind, entry.value)
    return bool(changed)


def entry_delete(*, model: type[ListEntry], entry_id: int,
                 actor_id: int | None = None) -> bool:
    """Remove an entry outright (deactivating keeps history; this does not)."""
    with transaction.atomic():
        entry = model.objects.filter(pk=entry_id).first()
        if entry is None:
            return False
        audit(actor_id=actor_id, objects=[entry], action=DELETED, message="Deleted.")
        deleted, _ = model.objects.filter(pk=entry_id).delete()
        if deleted:
            _mirror_after_commit(entry.kind, entry.value)
    return bool(deleted)


def blacklist_add(*, kind: str, value: str, reason: str = "",
                  expires_at: datetime | None = None, source: str = Source.MANUAL,
                  actor_id: int | None = None, now: datetime | None = None,
                  ) -> tuple[BlacklistEntry, bool]:
    """Block an identity at the gate (see entry_add for what happens if it is listed)."""
    return entry_add(model=BlacklistEntry, kind=kind, value=value, reason=reason,
                     expires_at=expires_at, source=source, actor_id=actor_id, now=now)


def blacklist_deactivate(*, entry_id: int, actor_id: int | None = None) -> bool:
    return entry_deactivate(model=BlacklistEntry, entry_id=entry_id, actor_id=actor_id)


def blacklist_activate(*, entry_id: int, actor_id: int | None = None) -> bool:
    return entry_activate(model=BlacklistEntry, entry_id=entry_id, actor_id=actor_id)


def blacklist_extend(*, entry_id: int, days: int = EXTEND_DAYS, actor_id: int | None = None,
                     now: datetime | None = None) -> bool:
    return entry_extend(model=BlacklistEntry, entry_id=entry_id, days=days,
                        actor_id=actor_id, now=now)


def allowlist_add(*, kind: str, value: str, reason: str = "",
                  expires_at: datetime | None = None, source: str = Source.MANUAL,
                  actor_id: int | None = None, now: datetime | None = None,
                  ) -> tuple[AllowlistEntry, bool]:
    """Clear an identity: it leaves the mirror even while blacklist entries for it are live."""
    return entry_add(model=AllowlistEntry, kind=kind, value=value, reason=reason,
                     expires_at=expires_at, source=source, actor_id=actor_id, now=now)


def mirror_rebuild(*, now: datetime | None = None) -> dict[str, int]:
    """Rewrite the Redis mirror from the database (periodically, and after a Redis loss)."""
    return mirror.mirror_rebuild(now=now)
