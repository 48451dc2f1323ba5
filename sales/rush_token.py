"""The rush path's access-token check: a token exactly as this store issues it, verified in
about a tenth of what simplejwt and PyJWT spend on it (their generic key handling and claim
machinery are most of a purchase's cost on this path).

It only ever accepts: a token it does not vouch for gets None, and simplejwt's own classes
decide about it as for any request. It vouches only for the shape `AccessToken.for_user`
produces under the settings it was written for (HS256 with SIGNING_KEY, no audience or
issuer, the default claim names): the header {"alg": "HS256", "typ": "JWT"}, exactly the
claims token_type, exp, iat, jti and user_id, a valid signature, token_type "access", exp
not passed and iat not in the future (with LEEWAY), as PyJWT and simplejwt require. Under
other settings it vouches for nothing. sales/tests/test_rush_token.py holds it to
simplejwt's answers, mutated tokens included.

A token it verified is remembered with its claims (a bounded map per process, dropped when
the settings change): a shopper polls and retries with the same token many times in a rush,
and only the clock needs checking again. The map is keyed by the whole token, signature
included, so a remembered entry only ever answers for the very string that was verified.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from datetime import timedelta

from rest_framework_simplejwt import settings as simplejwt_settings

from core.snapshot import from_settings

SEGMENT = re.compile(rb"[A-Za-z0-9_-]+")
HEADER = {"alg": "HS256", "typ": "JWT"}
CLAIMS = {"token_type", "exp", "iat", "jti", "user_id"}
USER_ID = re.compile(r"[0-9]{1,18}")
# simplejwt reads exp as a datetime: from the year 10000 on, a ValueError (its 500).
YEAR_10000 = 253402300800
# Tokens remembered per process: a rush's shoppers, each with one token, fit many times over.
REMEMBERED_MAX = 65536


class Vouching:
    """What the check needs from the settings, read once: the key (None: vouch for nothing),
    the leeway, and the tokens already verified under this key, with (user id, exp, iat)."""

    __slots__ = ("key", "leeway", "verified")

    def __init__(self, key: bytes | None, leeway: float) -> None:
        self.key, self.leeway = key, leeway
        self.verified: dict[str, tuple[int, int, int]] = {}


@from_settings
def _vouching() -> Vouching:
    return Vouching(_settings_vouched_for(), _leeway())


def _settings_vouched_for() -> bytes | None:
    """The signing key, if simplejwt is configured as this check assumes; else None. (Read
    through the module: simplejwt rebinds `api_settings` when SIMPLE_JWT changes.)"""
    s = simplejwt_settings.api_settings
    if (s.ALGORITHM != "HS256" or s.VERIFYING_KEY or s.AUDIENCE is not None
            or s.ISSUER is not None or s.JWK_URL or s.USER_ID_CLAIM != "user_id"
            or s.TOKEN_TYPE_CLAIM != "token_type" or s.JTI_CLAIM != "jti"
            or getattr(s, "CHECK_REVOKE_TOKEN", False)
            or s.AUTH_HEADER_NAME != "HTTP_AUTHORIZATION"
            or tuple(s.AUTH_HEADER_TYPES) != ("Bearer",)
            or [c.__module__ + "." + c.__qualname__ for c in s.AUTH_TOKEN_CLASSES]
            != ["rest_framework_simplejwt.tokens.AccessToken"]
            or not isinstance(s.SIGNING_KEY, str)):
        return None
    return s.SIGNING_KEY.encode()


def _leeway() -> float:
    leeway = simplejwt_settings.api_settings.LEEWAY
    return leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)


def _decode(segment: bytes) -> bytes:
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def remembered_user(token: str) -> int | None:
    """The user id of a token verified before and still valid by the clock; None for any
    other (which may still be valid: `access_token_user` decides)."""
    vouching = _vouching()
    known = vouching.verified.get(token)
    if known is None:
        return None
    user_id, exp, iat = known
    now = time.time()
    if now - vouching.leeway < exp and iat <= now + vouching.leeway:
        return user_id
    return None


def access_token_user(token: str) -> int | None:
    """The user id of a valid access token of the shape above, or None (not vouched for)."""
    vouching = _vouching()
    if token in vouching.verified:
        return remembered_user(token)
    key = vouching.key
    if key is None:
        return None
    parts = token.encode("ascii", "replace").split(b".")
    if len(parts) != 3 or not all(SEGMENT.fullmatch(part) for part in parts):
        return None
    header, payload, signature = parts
    try:
        expected = hmac.new(key, header + b"." + payload, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _decode(signature)):
            return None
        if json.loads(_decode(header)) != HEADER:
            return None
        claims = json.loads(_decode(payload))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict) or claims.keys() != CLAIMS:
        return None
    now, leeway = time.time(), vouching.leeway
    exp, iat, user_id = claims["exp"], claims["iat"], claims["user_id"]
    if not (_is_int(exp) and _is_int(iat) and isinstance(claims["jti"], str)
            and claims["token_type"] == "access" and exp < YEAR_10000):
        return None
    if _is_int(user_id):
        pass
    elif isinstance(user_id, str) and USER_ID.fullmatch(user_id):
        user_id = int(user_id)
    else:
        return None
    # Remembered before the clock is checked: the claims are the string's, whatever the time.
    if len(vouching.verified) >= REMEMBERED_MAX:
        vouching.verified.clear()
    vouching.verified[token] = (user_id, exp, iat)
    if not (now - leeway < exp and iat <= now + leeway):
        return None
    return user_id
