"""The gate's Redis: its connection, its scripts and the names of a sale's keys.

Shared by the admission hot path (`sales.gate.admission`) and the gate's maintenance
(`sales.gate.ops`): loading, rebuilding, releasing units.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import redis
from django.conf import settings

from antiscalper.mirror import BLACKLIST_KEYS as MIRROR_KEYS
from core.redis_client import connection  # one client per process, the gate's too
from core.redis_dataset import dataset_of

LUA_DIR = Path(__file__).with_name("lua")
TICKET_TTL_SECONDS = 24 * 3600
PIPELINE_GROUP = "pipeline"
# Blacklist mirror sets, kept by the anti-scalper module; read by the admission script,
# which fails closed while the mirror is not ready (after a Redis loss, until rebuilt).
BLACKLIST_KEYS = MIRROR_KEYS
SIGNALS_KEY = "signals:fcode"      # wrong F-code guesses, read by the anti-scalper rules
FCODE_GUESS_LIMIT = 5              # wrong guesses per account or device ...
FCODE_GUESS_WINDOW_SECONDS = 900   # ... within this window, then 429 until it passes
ATTEMPTS_CAP = 1_000_000           # attempts kept per sale for the signals pipeline


def guess_keys(user_id: int, device: str) -> tuple[str, str]:
    return f"fguess:u:{user_id}", f"fguess:d:{device}"


def dataset() -> str:
    """The Redis dataset this process's client reaches now (see `core.redis_dataset`)."""
    return dataset_of(connection())


@cache
def script_source(name: str) -> str:
    """The text of a Lua script of sales/gate/lua (read once per process)."""
    return (LUA_DIR / f"{name}.lua").read_text()


@cache
def script(name: str):
    """A Lua script of sales/gate/lua, registered once per process."""
    return connection().register_script(script_source(name))


def epoch_ms(moment: datetime) -> int:
    """The gate's clock: milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)


def ensure_group(stream: str, group: str) -> None:
    """Create a stream's consumer group (and the stream) unless it exists."""
    try:
        connection().xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


@dataclass(frozen=True)
class SaleKeys:
    """Every key of one sale carries the same hash tag, so a cluster keeps them on one shard."""

    sale_id: int

    def _k(self, name: str) -> str:
        return f"fs:{{{self.sale_id}}}:{name}"

    @property
    def meta(self) -> str:
        return self._k("meta")

    @property
    def stock(self) -> str:
        return self._k("stock")

    @property
    def bought(self) -> str:
        return self._k("bought")

    @property
    def idem(self) -> str:
        return self._k("idem")

    @property
    def queue(self) -> str:
        return self._k("queue")

    @property
    def seq(self) -> str:
        return self._k("seq")

    @property
    def processed(self) -> str:
        return self._k("processed")

    @property
    def reservers(self) -> str:
        return self._k("reservers")

    @property
    def returned(self) -> str:
        return self._k("returned")

    @property
    def attempts(self) -> str:
        return self._k("attempts")

    @property
    def fstock(self) -> str:
        return self._k("fstock")

    @property
    def fcodes(self) -> str:
        return self._k("fcodes")

    @property
    def rights(self) -> str:
        return self._k("rights")

    @property
    def decided(self) -> str:
        return self._k("decided")

    def ticket(self, ticket: str) -> str:
        return self._k(f"t:{ticket}")

    def rate(self, user_id: int) -> str:
        return self._k(f"rl:{user_id}")


_entropy = threading.local()
_TICKET = re.compile(r"([0-9]{1,12})-([0-9a-f]{16})(?:-([0-9a-f]{1,12})-([0-9a-f]{16}))?")


@cache
def _ticket_key() -> bytes:
    return hashlib.sha256(b"flashsale.ticket:" + settings.SECRET_KEY.encode()).digest()


def _ticket_mac(sale_id: int, user_id: int, nonce: str, stamp: str) -> str:
    message = f"{sale_id}|{user_id}|{nonce}|{stamp}".encode()
    return hmac.digest(_ticket_key(), message, "sha256")[:8].hex()  # one C call


def ticket_new(sale_id: int, *, user_id: int = 0, issued_ms: int = 0) -> str:
    """A ticket id that names its sale and cannot be guessed (64 bits from os.urandom).

    With the buyer and the moment, it also carries when it was issued and a MAC over both:
    a ticket that neither Redis nor the database knows can then be told apart from a forged
    one, and found lost with Redis if its gate was rebuilt after it was issued.

    The random bytes are drawn 4 KiB at a time per thread (a system call per 512 tickets, not
    per ticket); a forked child draws its own, so no two processes hand out the same bytes."""
    pool = getattr(_entropy, "pool", b"")
    if len(pool) < 8 or _entropy.pid != os.getpid():
        pool, _entropy.pid = os.urandom(4096), os.getpid()
    _entropy.pool = pool[8:]
    nonce = pool[:8].hex()
    if not issued_ms:
        return f"{sale_id}-{nonce}"
    stamp = f"{issued_ms:x}"
    return f"{sale_id}-{nonce}-{stamp}-{_ticket_mac(sale_id, user_id, nonce, stamp)}"


def sale_id_of_ticket(ticket: str) -> int | None:
    """The sale id a ticket names, or None for anything ticket_new cannot have made.

    ASCII digits only: `"²".isdigit()` is true but `int("²")` raises, which was a 500."""
    match = _TICKET.fullmatch(ticket)
    return int(match.group(1)) if match else None


def ticket_issued_ms(ticket: str, *, user_id: int) -> int | None:
    """When this account was issued this ticket, if the ticket proves it (its MAC checks)."""
    match = _TICKET.fullmatch(ticket)
    if not match or match.group(3) is None:
        return None
    sale, nonce, stamp, mac = match.groups()
    if not hmac.compare_digest(mac, _ticket_mac(int(sale), user_id, nonce, stamp)):
        return None
    return int(stamp, 16)


def code_normalize(code: str) -> str:
    """An F-code as the shopper meant it: upper case, no separators."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_hash(code: str) -> str:
    """An F-code's HMAC, the only form stored and loaded into the gate (the `fcodes` hash is
    keyed by it): useless to whoever reads the table or the keys."""
    key = settings.FCODE_HMAC_KEY.encode()
    return hmac.new(key, code_normalize(code).encode(), hashlib.sha256).hexdigest()
