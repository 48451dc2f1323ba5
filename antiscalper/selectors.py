"""Reads: lists, single entries, and what the blacklist mirror should hold."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from antiscalper import established
from antiscalper.identities import value_normalize
from antiscalper.models import (
    AllowlistEntry,
    Appeal,
    BlacklistEntry,
    Decision,
    Kind,
    ListEntry,
    RingCase,
    RiskDecision,
    live_q,
)
from core.errors import DomainError, not_found
from core.sentences import when
from shop.models import Customer, Order

User = get_user_model()


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


def buyer_blocked(*, user_id: int, device: str = "", ip: str = "",
                  now: datetime | None = None) -> bool:
    """Whether this buyer is refused as blocked: its account, device or IP (the identities
    admit.lua checks) or its registered phone (its own, unlike an address-book phone) is on
    the blacklist and not allowlisted, read from the database for the paths beside the gate
    (reservations, draw entries)."""
    now = now or timezone.now()
    return any(identity_blocked(kind=kind, value=value, now=now)
               for kind, value, _ in _own_identities(user_id=user_id, device=device, ip=ip))


def _own_identities(*, user_id: int, device: str, ip: str) -> list[tuple[str, str, str]]:
    """(kind, normalised value, label) of what a buyer holds as its own: its account, this
    request's device and IP, and its registered phone (not an address-book phone: anyone can
    type one). Values that are empty or cannot be normalised are left out."""
    phone = Customer.objects.filter(user_id=user_id).values_list("phone", flat=True).first()
    found = []
    for kind, value, label in ((Kind.ACCOUNT, str(user_id), "account"),
                               (Kind.DEVICE, device, "device"),
                               (Kind.IP, ip, "network address"),
                               (Kind.PHONE, phone or "", "phone number")):
        if not value:
            continue
        try:
            found.append((kind, value_normalize(kind=kind, value=value), label))
        except DomainError:
            continue
    return found


def accounts_blocked(*, user_ids: list[int], now: datetime | None = None) -> set[int]:
    """The accounts among `user_ids` that are blacklisted, or whose registered phone is, and
    not allowlisted (a few queries per list), for choosing draw winners."""
    now = now or timezone.now()
    values = [str(u) for u in user_ids]
    listed = set(BlacklistEntry.objects.filter(live_q(now), kind=Kind.ACCOUNT, value__in=values)
                 .values_list("value", flat=True))
    if listed:
        listed -= set(AllowlistEntry.objects.filter(live_q(now), kind=Kind.ACCOUNT,
                                                    value__in=list(listed))
                      .values_list("value", flat=True))
    blocked = {int(v) for v in listed}
    phones: dict[str, int] = {}
    for phone, user_id in Customer.objects.filter(user_id__in=user_ids).values_list(
            "phone", "user_id"):
        try:
            phones[value_normalize(kind=Kind.PHONE, value=phone)] = user_id
        except DomainError:
            continue
    phones_listed = set(BlacklistEntry.objects.filter(live_q(now), kind=Kind.PHONE,
                                                      value__in=list(phones))
                        .values_list("value", flat=True))
    if phones_listed:
        phones_listed -= set(AllowlistEntry.objects.filter(live_q(now), kind=Kind.PHONE,
                                                           value__in=list(phones_listed))
                             .values_list("value", flat=True))
    return blocked | {phones[p] for p in phones_listed}


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


def block_reasons(*, user_id: int, device: str, ip: str) -> list[str]:
    """What a blocked shopper is told of why, in plain words: which of its own identities are
    on the blocklist (and until when), and that our checks stopped a purchase (when). Never a
    rule's code, a score, a threshold, ops' note or anything about another account: those
    would tell a scalper what to tune (issue 18), and the appeal is where a person explains."""
    now = timezone.now()
    reasons = []
    for kind, value, _label in _own_identities(user_id=user_id, device=device, ip=ip):
        entry = BlacklistEntry.objects.filter(live_q(now), kind=kind, value=value).first()
        if entry:
            listed, until = LISTED[kind]
            reasons.append(until % {"until": when(entry.expires_at)} if entry.expires_at
                           else str(listed))
    decisions = (RiskDecision.objects.filter(user_id=user_id, decision=Decision.BLOCK)
                 .exclude(review_status=RiskDecision.Review.CLEARED).order_by("-pk")
                 .values_list("created_at", flat=True)[:3])
    reasons.extend(gettext("Our anti-scalper checks stopped a purchase of yours on %(at)s.")
                   % {"at": when(at)} for at in decisions)
    return reasons


# What a shopper reads of each of its identities on the blocklist: (for good, until a time).
LISTED = {
    Kind.ACCOUNT: (_("Your account is on our blocklist."),
                   _("Your account is on our blocklist until %(until)s.")),
    Kind.DEVICE: (_("Your device is on our blocklist."),
                  _("Your device is on our blocklist until %(until)s.")),
    Kind.IP: (_("Your network address is on our blocklist."),
              _("Your network address is on our blocklist until %(until)s.")),
    Kind.PHONE: (_("Your phone number is on our blocklist."),
                 _("Your phone number is on our blocklist until %(until)s.")),
}


# --- Ring cases (antiscalper.cases writes them) ----------------------------------------------


def case_list(*, sale_id: int | None = None, status: str | None = None) -> QuerySet[RingCase]:
    """Cases per sale, open ones first, then the newest."""
    cases = RingCase.objects.all()
    if sale_id is not None:
        cases = cases.filter(sale_id=sale_id)
    if status is not None:
        cases = cases.filter(status=status)
    first = Case(When(status=RingCase.Status.OPEN, then=Value(0)), default=Value(1),
                 output_field=IntegerField())
    return cases.annotate(open_first=first).order_by("sale_id", "open_first", "-id")


def case_get(*, sale_id: int, case_id: int) -> RingCase:
    """A case of that sale; a case of another sale is not found, like a bogus id."""
    case = RingCase.objects.filter(pk=case_id, sale_id=sale_id).first()
    if case is None:
        raise not_found("case")
    return case


def case_cleared_ties(*, sale_id: int) -> dict[tuple[str, str], set[int]]:
    """(kind, value) -> the members of the sale's cleared cases it tied: ops said those links
    mean nothing about those accounts, so the linking pass no longer ties them by it."""
    cleared: dict[tuple[str, str], set[int]] = defaultdict(set)
    for links in RingCase.objects.filter(sale_id=sale_id, status=RingCase.Status.CLEARED) \
            .values_list("links", flat=True):
        for link in links:
            cleared[(link["kind"], link["value"])] |= set(link["members"])
    return dict(cleared)


def case_confirmed_blocks(*, sale_id: int) -> set[int]:
    """Accounts of the sale whose linking block ops confirmed (their orders are cancelled)."""
    return set(RiskDecision.objects.filter(
        sale_id=sale_id, source=RiskDecision.Source.LINKING, decision=Decision.BLOCK,
        review_status=RiskDecision.Review.CONFIRMED,
    ).values_list("user_id", flat=True).order_by().distinct())


def linking_blocked(*, sale_id: int, user_ids: set[int],
                    now: datetime | None = None) -> set[int]:
    """Those of `user_ids` a linking decision blocks in the sale: the block is not cleared
    (by ops or a cleared case) and the account is not allowlisted. The pipeline refuses their
    tickets before any order is written (a ring blocked before the sale opened)."""
    blocked = set(RiskDecision.objects.filter(
        sale_id=sale_id, source=RiskDecision.Source.LINKING, decision=Decision.BLOCK,
        user_id__in=sorted(user_ids)).exclude(review_status=RiskDecision.Review.CLEARED)
        .values_list("user_id", flat=True).order_by().distinct())
    if blocked:
        blocked -= {int(v) for v in AllowlistEntry.objects.filter(
            live_q(now or timezone.now()), kind=Kind.ACCOUNT,
            value__in=[str(u) for u in blocked]).values_list("value", flat=True)}
    return blocked


def usernames(*, user_ids) -> dict[int, str]:
    return dict(User.objects.filter(pk__in=list(user_ids)).values_list("pk", "username"))


def case_members(*, case: RingCase) -> list[dict]:
    """Each member: username, when it registered, whether it was an established customer
    when the sale opened (antiscalper.established) and how many orders it had paid for by
    then, their decisions in the case's sale (newest first, with the explanation and who
    answered), and whether a flag of theirs is still open: what a person weighs."""
    names = usernames(user_ids=case.members)
    opened = established.sale_opened_at(case.sale_id)
    settled = established.established_among(case.members, opened)
    joined = dict(Customer.objects.filter(user_id__in=case.members)
                  .values_list("user_id", "joined_at"))
    paid = dict(Order.objects.filter(user_id__in=case.members, status__in=established.BOUGHT,
                                     created_at__lt=opened or timezone.now())
                .values("user_id").annotate(n=Count("id")).values_list("user_id", "n")
                .order_by())
    decisions: dict[int, list[RiskDecision]] = defaultdict(list)
    for decision in RiskDecision.objects.filter(
            sale_id=case.sale_id, user_id__in=case.members).select_related("reviewed_by") \
            .order_by("-created_at", "-id"):
        decisions[decision.user_id].append(decision)
    return [{"user_id": user_id, "username": names.get(user_id, f"account {user_id}"),
             "joined_at": joined.get(user_id), "established": user_id in settled,
             "orders_before": paid.get(user_id, 0), "decisions": decisions[user_id],
             "pending": any(d.source == RiskDecision.Source.LINKING
                            and d.decision != Decision.ALLOW
                            and d.review_status == RiskDecision.Review.OPEN
                            for d in decisions[user_id])}
            for user_id in case.members]
