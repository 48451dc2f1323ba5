"""Appeals: a shopper asks to be cleared; upholding allowlists the identity at the gate.

One transaction per function, audited like every list change; closing an appeal is a
conditional update, so two reviewers racing on one appeal close it once.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from antiscalper import selectors
from antiscalper.audit import ADDED, CHANGED, audit
from antiscalper.identities import value_normalize
from antiscalper.models import Appeal, AttemptSignal, BlacklistEntry, Kind, RiskDecision
from antiscalper.services import MAX_REASON, allowlist_add, blacklist_deactivate
from core.errors import DomainError, invalid
from shop.models import Address, Customer, Payment

MAX_MESSAGE = 2000


NOT_YOURS = "not one of your identities"


def _owned(*, user_id: int, kind: str, value: str, ip: str) -> bool:
    """Whether `value` is one of this account's own identities of `kind`.

    Upholding an appeal allowlists the identity for everyone, so a shopper may only appeal
    for what is theirs: the account itself, its registered phone (unique to it), an address
    in its own address book, an instrument it paid with, and a device or IP it was actually
    seen with (a recorded attempt or decision; for the IP also the address of this very
    request). A value typed into the form proves nothing.
    """
    if kind == Kind.ACCOUNT:
        return value == str(user_id)
    if kind == Kind.PHONE:
        return Customer.objects.filter(user_id=user_id, phone=value).exists()
    if kind == Kind.ADDRESS:
        return Address.objects.filter(customer__user_id=user_id, normalized=value).exists()
    if kind == Kind.PAYMENT:  # stored as typed at the checkout: compare normal forms
        paid_with = Payment.objects.filter(user_id=user_id, status=Payment.Status.SUCCEEDED) \
            .exclude(instrument="").values_list("instrument", flat=True).distinct()
        return any(value_normalize(kind=kind, value=used) == value for used in paid_with)
    if kind == Kind.IP and ip and value_normalize(kind=kind, value=ip) == value:
        return True
    # Seen before it was listed: an attempt made with a listed device header afterwards
    # (refused, but recorded) would otherwise make anyone its owner.
    listed = selectors.active_entry(model=BlacklistEntry, kind=kind, value=value)
    field = "device" if kind == Kind.DEVICE else "ip"
    attempts = AttemptSignal.objects.filter(user_id=user_id, **{field: value})
    decisions = RiskDecision.objects.filter(user_id=user_id, **{field: value})
    if listed is not None:
        attempts = attempts.filter(at__lt=listed.created_at)
        decisions = decisions.filter(created_at__lt=listed.created_at)
    return attempts.exists() or decisions.exists()


def _appeal_identity(*, user_id: int, kind: str, value: str | None, device: str,
                     ip: str) -> str:
    if kind not in Kind.values:
        raise invalid(f"Unknown kind {kind!r}.", kind=[f"one of {', '.join(Kind.values)}"])
    if not value:
        if kind == Kind.PHONE:
            value = Customer.objects.filter(user_id=user_id).values_list("phone", flat=True) \
                .first()
        elif kind in (Kind.ACCOUNT, Kind.DEVICE, Kind.IP):
            value = {Kind.ACCOUNT: str(user_id), Kind.DEVICE: device, Kind.IP: ip}[kind]
        if not value:
            raise invalid("Say which identity you appeal for.", value=["required for this kind"])
    value = value_normalize(kind=kind, value=value)
    if kind == Kind.ACCOUNT and value != str(user_id):
        raise invalid("You can only appeal for your own account.", value=["not your account"])
    if not _owned(user_id=user_id, kind=kind, value=value, ip=ip):
        raise invalid("You can only appeal for your own identities: this account, its "
                      "phone, its addresses and payment cards, and the devices and networks "
                      "it bought or reserved from.", value=[NOT_YOURS])
    return value


def appeal_submit(*, user_id: int, message: str, kind: str = Kind.ACCOUNT,
                  value: str | None = None, device: str = "", ip: str = "",
                  ) -> tuple[Appeal, bool]:
    """A shopper asks to be cleared; one open appeal per identity. Returns (appeal, created).

    Without a value the identity is the shopper's own: account, registered phone, or the
    device and IP of this request. Only the shopper's own identities (`_owned`) may be
    appealed for; anything else is refused `invalid`, naming `value`.
    """
    message = (message or "").strip()
    if not message or len(message) > MAX_MESSAGE:
        raise DomainError("invalid", "Write 1 to 2000 characters.",
                          details={"message": ["1 to 2000 characters"]})
    value = _appeal_identity(user_id=user_id, kind=kind, value=value, device=device, ip=ip)
    with transaction.atomic():
        open_ = Appeal.objects.filter(user_id=user_id, kind=kind, value=value,
                                      status=Appeal.Status.OPEN).first()
        if open_ is not None:
            return open_, False
        entry = selectors.active_entry(model=BlacklistEntry, kind=kind, value=value)
        try:
            with transaction.atomic():
                appeal = Appeal.objects.create(user_id=user_id, kind=kind, value=value,
                                               entry=entry, message=message)
        except IntegrityError:  # a double submit raced this one
            return Appeal.objects.get(user_id=user_id, kind=kind, value=value,
                                      status=Appeal.Status.OPEN), False
        audit(actor_id=user_id, objects=[appeal], action=ADDED, message="Appeal submitted.")
    return appeal, True


def _appeal_close(*, appeal_id: int, status: str, actor_id: int | None, note: str,
                  now: datetime) -> Appeal | None:
    appeal = selectors.appeal_get(appeal_id=appeal_id)
    changed = Appeal.objects.filter(pk=appeal_id, status=Appeal.Status.OPEN).update(
        status=status, handled_by_id=actor_id, handled_at=now, resolution=note[:MAX_REASON])
    if not changed:
        return None
    audit(actor_id=actor_id, objects=[appeal], action=CHANGED,
          message=f"Appeal {status}: {note or 'no note'}.")
    return appeal


def appeal_uphold(*, appeal_id: int, actor_id: int | None = None, note: str = "",
                  now: datetime | None = None) -> bool:
    """Clear the appealed identity: allowlist it and deactivate its blacklist entries.

    False when the appeal was already handled (by someone else, or twice in a row).
    """
    now = now or timezone.now()
    with transaction.atomic():
        appeal = _appeal_close(appeal_id=appeal_id, status=Appeal.Status.UPHELD,
                               actor_id=actor_id, note=note, now=now)
        if appeal is None:
            return False
        allowlist_add(kind=appeal.kind, value=appeal.value, actor_id=actor_id, now=now,
                      reason=f"Appeal #{appeal.pk} upheld. {note}".strip()[:MAX_REASON])
        listed = BlacklistEntry.objects.filter(kind=appeal.kind, value=appeal.value,
                                               is_active=True).values_list("pk", flat=True)
        for entry_id in list(listed):
            blacklist_deactivate(entry_id=entry_id, actor_id=actor_id)
    return True


def appeal_reject(*, appeal_id: int, actor_id: int | None = None, note: str = "",
                  now: datetime | None = None) -> bool:
    """Keep the identity blocked; False when the appeal was already handled."""
    with transaction.atomic():
        appeal = _appeal_close(appeal_id=appeal_id, status=Appeal.Status.REJECTED,
                               actor_id=actor_id, note=note, now=now or timezone.now())
    return appeal is not None
