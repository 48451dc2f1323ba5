"""The gate's Redis: its connection, its scripts and the names of a sale's keys.

Shared by the admission hot path (`sales.gate.admission`) and the gate's maintenance
(`sales.gate.ops`): loading, rebuilding, releasing units.

A sale's gate is one bucket (`FlashSale.shards` = 1, the default: every key tagged `{<sale>}`)
or N buckets, each a full gate for a part of the stock and the buyers routed to it by account
(`bucket_of`), its keys tagged `{<sale>:<k>:<salt>}` so that each bucket lands on its own
master of a Redis Cluster (`bucket_keys`). A sale of N buckets keeps only a router under
`{<sale>}`: the bucket count, read by the admission script, which sends a caller that assumed
another count to the right bucket (`reroute`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import re
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import redis
from django.conf import settings
from redis.crc import key_slot

from antiscalper.mirror import BLACKLIST_KEYS as MIRROR_KEYS
from antiscalper.mirror import copy_key, copy_ready_key
from core.redis_client import clustered, dataset_at
from core.redis_client import gate_connection as connection  # the cluster's, or the one Redis

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
SHARDS_MAX = 16                    # buckets a sale may be split into (FlashSale.shards)
CLUSTER_SLOTS = 16384


def guess_keys(user_id: int, device: str) -> tuple[str, str]:
    return f"fguess:u:{user_id}", f"fguess:d:{device}"


def dataset(key: str = "") -> str:
    """The Redis dataset that holds `key` now (see `core.redis_dataset`): on a cluster, the
    dataset of the master holding it (each bucket is stamped with its own master's)."""
    return dataset_at(key)


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
    """Every key of one bucket of a sale carries the same hash tag, so a cluster keeps them on
    one shard. `SaleKeys(sale_id)` is the sale's only bucket (one shard) or its router."""

    sale_id: int
    tag: str = ""

    def _k(self, name: str) -> str:
        return f"fs:{{{self.tag or self.sale_id}}}:{name}"

    @property
    def prefix(self) -> str:
        """What every key of this bucket starts with (the blacklist copies' too)."""
        return self._k("")

    @property
    def journal(self) -> str:
        """Units this bucket gave away and the recipient has not yet acknowledged."""
        return self._k("moves:out")

    @property
    def received(self) -> str:
        """Moves this bucket has received (a repeated give adds nothing)."""
        return self._k("moves:in")

    def blacklist(self, kind: str) -> str:
        """This bucket's copy of a blacklist mirror set (a cluster's buckets read their own)."""
        return copy_key(self.prefix, kind)

    @property
    def blacklist_ready(self) -> str:
        return copy_ready_key(self.prefix)

    @property
    def signals(self) -> str:
        return self._k("signals")

    def guesses(self, user_id: int, device: str) -> tuple[str, str]:
        return self._k(f"fguess:u:{user_id}"), self._k(f"fguess:d:{device}")

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


def bucket_of(user_id: int, shards: int) -> int:
    """The bucket an account buys from: a stable hash of its id, so one buyer always meets the
    same per-user counters, idempotency keys and F-codes."""
    return zlib.crc32(b"%d" % user_id) % shards if shards > 1 else 0


def _bucket_tag(sale_id: int, bucket: int, shards: int) -> str:
    """A hash tag whose slot lies in the middle half of the bucket's Nth of the slot space,
    so that the N buckets of a sale land on N masters of an evenly split cluster."""
    width = CLUSTER_SLOTS // shards
    low = bucket * width + width // 4
    for salt in itertools.count():
        tag = f"{sale_id}:{bucket}:{salt}"
        if low <= key_slot(tag.encode()) < low + width // 2:
            return tag
    raise AssertionError("unreachable")


@cache
def bucket_keys(sale_id: int, shards: int) -> tuple[SaleKeys, ...]:
    """The keys of each bucket of a sale of `shards` buckets (one: the sale's own)."""
    if shards <= 1:
        return (SaleKeys(sale_id),)
    return tuple(SaleKeys(sale_id, tag=_bucket_tag(sale_id, k, shards)) for k in range(shards))


def shards_of(sale_id: int) -> int:
    """How many buckets the sale's gate has, by its router (1 when none is recorded)."""
    return int(connection().hget(SaleKeys(sale_id).meta, "shards") or 1)


# Whether the admission script reads each bucket's own blacklist copy, guess counters and
# signals: on a cluster the mirror's sets live in other slots than the bucket's keys (a
# script may read only its own slot's); on one Redis it reads the shared ones.
local_blacklist = clustered


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
