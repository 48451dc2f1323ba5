"""F-codes: unguessable, easy to type, stored only as an HMAC.

A code is 15 symbols from a 25-symbol alphabet without look-alikes (no 0/O, 1/I/L, 2/Z,
5/S, 8/B), printed in groups of five: 25^15 is about 2^69.7 possibilities, above the 64 bits
asked for, and the gate locks an account or device out after a few wrong guesses anyway.
Typing is forgiving: case, spaces and dashes do not matter.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings

ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"  # 25 symbols, none of them easy to confuse
GROUPS, GROUP_SIZE = 3, 5


def code_new() -> str:
    """A fresh code such as 'K7Q3M-9XPAC-4HTRW'."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_SIZE))
    return "-".join(symbols[i:i + GROUP_SIZE] for i in range(0, len(symbols), GROUP_SIZE))


def code_normalize(code: str) -> str:
    """What the shopper meant: upper case, no separators."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_hash(code: str) -> str:
    """The HMAC stored and loaded into the gate: useless to whoever reads the table."""
    key = settings.FCODE_HMAC_KEY.encode()
    return hmac.new(key, code_normalize(code).encode(), hashlib.sha256).hexdigest()


def code_hint(code: str) -> str:
    return code_normalize(code)[-GROUP_SIZE:]
