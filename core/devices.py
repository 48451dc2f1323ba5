"""Device ids the store issued: a verified identity where a typed X-Device-Id is a claim.

Anyone can send any X-Device-Id, so a header value ties nobody for certain (issue 16,
point 1). The storefront gives each browser a device cookie at log-in; its value is signed
here (a random token and an HMAC of it, Django's `Signer` with this module's salt), so a
value that verifies was issued by this store and reached the client that sends it. The
cookie is HttpOnly: another shopper's page scripts cannot read it, so accounts presenting
one issued id share a browser (or were handed the id by whoever holds it: a ring operator),
and linking may tie them by it as firmly as by a charged card (`antiscalper.holders`). Values
issued before signing, and any header, stay claimed.
"""

from __future__ import annotations

import secrets

from django.core.signing import BadSignature, Signer

SALT = "core.devices.issued"
ISSUED_KIND = "issued_device"  # the identifier's kind in linking (antiscalper.holders)
TOKEN_BYTES = 12  # 16 characters; with the signature 60, within the 64 a device id keeps


def _signer() -> Signer:
    return Signer(salt=SALT)


def device_issue() -> str:
    """A new device id for a browser, signed by this store."""
    return _signer().sign(secrets.token_urlsafe(TOKEN_BYTES))


def device_issued(value: str) -> bool:
    """Whether `value` is a device id this store issued (constant-time check)."""
    if not value or ":" not in value or len(value) > 64:
        return False
    try:
        _signer().unsign(value)
    except BadSignature:
        return False
    return True
