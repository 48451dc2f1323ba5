"""Reads: lists, single entries, and what the blacklist mirror should hold."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Q, QuerySet

from antiscalper.models import AllowlistEntry, Appeal, BlacklistEntry, Kind, ListEntry, live_q
from shop.errors import not_found


def blacklist_list(*, kind: str | None = None, active: bool | None = None,
                   q: str | None = None) -> QuerySet[BlacklistEntry]:
    entries = BlacklistEntry.objects.select_related("created_by")
    if kind:
        entries = entries.filter(kind=kind)
    if active is not None:
        entries = entries.filter(is_active=active)
    if q:
        entries = entries.filter(Q(value__icontains=q) | Q(reason__icontains=q))
    return entries


def blacklist_get(*, entry_id: int) -> BlacklistEntry:
    entry = BlacklistEntry.objects.select_related("created_by").filter(pk=entry_id).first()
    if entry is None:
        raise not_found("blacklist entry")
    return entry


def active_entry(*, model: type[ListEntry], kind: str, value: str) -> ListEntry | None:
    """The one active entry of this identity in `model`'s list, if any (expired or not)."""
    return model.objects.filter(kind=kind, value=value, is_active=True).first()


def identity_blocked(*, kind: str, value: str, now: datetime) -> bool:
    """Whether the mirror should hold this identity: live on the blacklist, not allowlisted."""
    listed = BlacklistEntry.objects.filter(live_q(now), kind=kind, value=value).exists()
    return listed and not AllowlistEntry.objects.filter(
        live_q(now), kind=kind, value=value).exists()


def blocked_values(*, now: datetime) -> dict[str, set[str]]:
    """Every mirror set's rightful members, per kind (kinds without members map to empty)."""
    blocked: dict[str, set[str]] = {kind: set() for kind in Kind.values}
    allowed: dict[str, set[str]] = defaultdict(set)
    for kind, value in AllowlistEntry.objects.filter(live_q(now)).values_list("kind", "value"):
        allowed[kind].add(value)
    rows = BlacklistEntry.objects.filter(live_q(now)).values_list("kind", "value")
    for kind, value in rows.iterator(chunk_size=5000):
        if value not in allowed[kind]:
            blocked.setdefault(kind, set()).add(value)
    return blocked


def appeal_list(*, user_id: int | None = None, status: str | None = None) -> QuerySet[Appeal]:
    appeals = Appeal.objects.all()
    if user_id is not None:
        appeals = appeals.filter(user_id=user_id)
    if status:
        appeals = appeals.filter(status=status)
    return appeals


def appeal_get(*, appeal_id: int) -> Appeal:
    appeal = Appeal.objects.filter(pk=appeal_id).first()
    if appeal is None:
        raise not_found("appeal")
    return appeal
