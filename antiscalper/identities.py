"""One normal form per identity kind, so that a listed value matches what the gate sees.

The gate compares strings: the account is the user id as a string, the device is the
X-Device-Id header (at most 64 characters), the IP is the client address. Phones and
addresses use the shop's own normalisation, so that a listed phone or address matches the
one stored on a customer however it was typed.
"""

from __future__ import annotations

import ipaddress
import re

from django.contrib.auth import get_user_model

from antiscalper.models import Kind
from core.errors import DomainError, invalid
from shop.services import address_normalize, phone_normalize

MAX_OPAQUE = 64  # the gate keeps the first 64 characters of X-Device-Id
MAX_VALUE = 300


def _bad(message: str) -> DomainError:
    return invalid(message, value=[message])


_USER_ID = re.compile(r"[0-9]{1,18}")


def _account(value: str) -> str:
    """A user id (ASCII digits: `"²".isdigit()` is true and `int("²")` raises) or a username."""
    if _USER_ID.fullmatch(value):
        return str(int(value))
    user_id = (get_user_model().objects.filter(username__iexact=value)
               .values_list("pk", flat=True).first())
    if user_id is None:
        raise _bad("An account is a user id or an existing username.")
    return str(user_id)


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _bad("Enter a single IPv4 or IPv6 address.") from None


def _phone(value: str) -> str:
    try:
        return phone_normalize(phone=value)
    except DomainError:
        raise _bad("Phone numbers are 6 to 18 digits.") from None


def _address(value: str) -> str:
    parts = value.split("|")
    if len(parts) != 3 or not parts[0].strip():
        raise _bad("An address is 'line1|city|postcode' (raw or already normalised).")
    line1, city, postcode = parts
    return address_normalize(line1=line1, city=city, postcode=postcode)


def _opaque(value: str) -> str:
    if len(value) > MAX_OPAQUE or not value.isprintable():
        raise _bad(f"At most {MAX_OPAQUE} printable characters.")
    return value


def _payment(value: str) -> str:
    return _opaque(re.sub(r"[\s\-]", "", value).lower())


_NORMALIZERS = {
    Kind.ACCOUNT: _account,
    Kind.DEVICE: _opaque,
    Kind.IP: _ip,
    Kind.PHONE: _phone,
    Kind.ADDRESS: _address,
    Kind.PAYMENT: _payment,
}


def value_normalize(*, kind: str, value: str) -> str:
    """The stored and mirrored form of `value`; DomainError `invalid` naming `value` or `kind`."""
    if kind not in Kind.values:
        raise invalid(f"Unknown kind {kind!r}.", kind=[f"one of {', '.join(Kind.values)}"])
    value = (value or "").strip()
    if not value:
        raise _bad("This field may not be blank.")
    if len(value) > MAX_VALUE:
        raise _bad(f"At most {MAX_VALUE} characters.")
    normal = _NORMALIZERS[Kind(kind)](value)
    if len(normal) > MAX_VALUE:  # NFKC can grow a value ("\ufdfa" is 18 letters)
        raise _bad(f"At most {MAX_VALUE} characters once normalised.")
    return normal
