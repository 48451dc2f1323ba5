"""Confirming a customer's registered phone with a code sent to it by SMS.

Why: anyone can type any phone number at registration; only whoever holds the SIM can read
a code sent to it. A confirmed phone is a *verified* identity (antiscalper.linking may tie
accounts by it), an unconfirmed one is only claimed.

The code is 6 digits from `secrets`, kept only as an HMAC (PHONE_CODE_HMAC_KEY, derived from
SECRET_KEY by default) over the account, the number and the code, so a code is worth nothing
on another account or number and the database never holds it. It lapses after
PHONE_CODE_TTL_SECONDS, dies after PHONE_CODE_MAX_TRIES tries, confirms once, and a new one
is sent at most once per PHONE_CODE_RESEND_SECONDS. Each try takes one of the tries in the
same UPDATE that checks it is still live, so parallel guesses cannot get more than their
share; the comparison runs in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError, ErrorCode, invalid, not_found
from shop import sms
from shop.models import Customer, PhoneCode

log = logging.getLogger(__name__)
CODE_DIGITS = 6
_CODE = re.compile(r"[0-9]{6}")


@dataclass(frozen=True)
class CodeSent:
    expires_at: datetime
    resend_at: datetime


def phone_canonical(*, phone: str) -> str:
    """The number an SMS reaches, written one way: '+8613800138000', '008613800138000' and
    '13800138000' are one phone (the store's market is China, +86: its 11-digit mobiles are
    kept national; any other number is its digits without + or the 00 prefix)."""
    digits = phone.lstrip("+")
    if digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
        digits = digits[2:]
    return digits


def code_digest(*, customer_id: int, phone: str, code: str) -> str:
    """What is stored of a code: bound to the account and the number it was sent to."""
    key = settings.PHONE_CODE_HMAC_KEY.encode()
    return hmac.new(key, f"{customer_id}|{phone}|{code}".encode(), hashlib.sha256).hexdigest()


def _customer(user_id: int) -> Customer:
    customer = Customer.objects.filter(user_id=user_id).first()
    if customer is None:
        raise not_found("customer profile")
    return customer


def _cooling(retry_after: float) -> DomainError:
    seconds = max(1, int(retry_after + 0.999))
    return DomainError(ErrorCode.RATE_LIMITED, f"A code was sent moments ago; ask again in "
                       f"{seconds} s.", details={"retry_after": seconds})


def phone_code_send(*, user_id: int, now: datetime | None = None) -> CodeSent:
    """Send a new code to the account's registered phone (the last one sent stops working);
    429 `rate_limited` within the resend cool-down, 400 `invalid` once the phone is confirmed."""
    now = now or timezone.now()
    customer = _customer(user_id)
    if customer.phone_verified_at is not None:
        raise invalid("This phone is already confirmed.", phone=[_("already confirmed")])
    cooldown = timedelta(seconds=settings.PHONE_CODE_RESEND_SECONDS)
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    fields = {"phone": customer.phone, "sent_at": now, "tries": 0, "used_at": None,
              "digest": code_digest(customer_id=customer.pk, phone=customer.phone, code=code),
              "expires_at": now + timedelta(seconds=settings.PHONE_CODE_TTL_SECONDS)}
    try:
        with transaction.atomic():
            # Conditional on the cool-down being over: two sends at once replace it once.
            replaced = PhoneCode.objects.filter(customer=customer,
                                                sent_at__lte=now - cooldown).update(**fields)
            if not replaced:
                PhoneCode.objects.create(customer=customer, **fields)
    except IntegrityError:  # a code is already there and still cooling down
        sent_at = PhoneCode.objects.filter(customer=customer).values_list(
            "sent_at", flat=True).first() or now
        raise _cooling((sent_at + cooldown - now).total_seconds()) from None
    try:
        sms.backend().send(phone=customer.phone, message=(
            _("Your Mi Store code is %(code)s. It expires in %(minutes)d minutes. Never share "
              "it.") % {"code": code, "minutes": settings.PHONE_CODE_TTL_SECONDS // 60}))
    except Exception:
        # Nothing reached the phone: forget the code so the shopper may ask again at once.
        log.exception("SMS backend failed for customer %s", customer.pk)
        PhoneCode.objects.filter(customer=customer, sent_at=now).delete()
        raise DomainError(ErrorCode.UNAVAILABLE, "The text message could not be sent; try "
                          "again in a moment.", status=503) from None
    return CodeSent(expires_at=fields["expires_at"], resend_at=now + cooldown)


def phone_code_confirm(*, user_id: int, code: str, now: datetime | None = None) -> Customer:
    """Confirm the account's phone with the code sent to it; 400 `invalid` naming `code`
    when it is malformed, wrong, lapsed, spent or dead (tries used up)."""
    now = now or timezone.now()
    customer = _customer(user_id)
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise invalid("A code is 6 digits.",
                      code=[_("Enter the 6 digits of the text message.")])
    live = PhoneCode.objects.filter(customer=customer, phone=customer.phone, used_at=None,
                                    expires_at__gt=now, tries__lt=settings.PHONE_CODE_MAX_TRIES)
    if not live.update(tries=F("tries") + 1):  # this try is taken before the code is compared
        raise _why_dead(customer, now)
    row = PhoneCode.objects.get(customer=customer)
    given = code_digest(customer_id=customer.pk, phone=customer.phone, code=code)
    if not hmac.compare_digest(row.digest, given):
        left = max(0, settings.PHONE_CODE_MAX_TRIES - row.tries)
        raise invalid("That code is wrong.", code=[
            _("That code is wrong; %(left)d tries left.") % {"left": left} if left else
            _("That code is wrong and no tries are left; ask for a new code.")],
            tries_left=left)
    with transaction.atomic():
        if not PhoneCode.objects.filter(pk=row.pk, used_at=None, digest=given).update(
                used_at=now):
            raise invalid("That code was already used.", code=[_("Ask for a new code.")])
        Customer.objects.filter(pk=customer.pk).update(
            phone_verified_at=now, is_verified=True,
            verified_phone=phone_canonical(phone=customer.phone))
    customer.refresh_from_db()
    return customer


def _why_dead(customer: Customer, now: datetime) -> DomainError:
    row = PhoneCode.objects.filter(customer=customer).first()
    if row is None or row.phone != customer.phone:
        reason = _("No code is waiting for this phone; ask for one.")
    elif row.used_at is not None:
        reason = _("That code was already used; ask for a new one.")
    elif row.expires_at <= now:
        reason = _("That code has expired; ask for a new one.")
    else:
        reason = _("Too many wrong tries; ask for a new code.")
    return invalid(reason, code=[reason], tries_left=0)


def phone_verified_mark(*, customer_id: int, now: datetime | None = None) -> bool:
    """Record a phone as confirmed without a code: for ops (a phone checked another way) and
    the seeding of demo data. False when it already was."""
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise not_found("customer")
    return bool(Customer.objects.filter(pk=customer_id, phone_verified_at=None).update(
        phone_verified_at=now or timezone.now(), is_verified=True,
        verified_phone=phone_canonical(phone=customer.phone)))
