"""Signals per attempt: cheap Redis counters during the sale, a table for analysis after.

The sales app hands every attempt the gate saw to `attempts_record` (in batches), before it
asks `risk.risk_evaluate` about the admitted ones. Per sale `s` Redis holds, each key with a
TTL of two days (the database copy, AttemptSignal, is what stays):

  rs:{s}:a:{user}:t       list   the account's last 20 attempt times (ms), newest first
  rs:{s}:a:{user}:f       int    wrong F-codes entered by the account
  rs:{s}:d:{device}:u     set    accounts seen on the device
  rs:{s}:d:{device}:o     set    accounts on the device within 10 s of the opening
  rs:{s}:d:{device}:r     zset   accounts that reserved from the device (first time, ms)
  rs:{s}:d:{device}:f     int    wrong F-codes entered from the device
  rs:{s}:d:{device}:fu    hash   of those, each account's (account -> count)
  rs:{s}:i:{ip}:r         zset   accounts that reserved from the IP (first time, ms)
  rs:{s}:i:{ip}:v:{b}     int    attempts from the IP in 10-second bucket b
  rs:{s}:n:{subnet}:o     set    accounts on the /24 (/64) within 10 s of the opening
  rs:{s}:cl               hash   account -> size of its linked cluster (written by linking)
  rs:{s}:jr               zset   admitted accounts by registration time (antiscalper.lookback)
"""

from __future__ import annotations

import ipaddress
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path

from redis.commands.core import Script

from antiscalper.arrivals import LinkKeys, participants_mark
from antiscalper.bulk import rows_insert
from antiscalper.models import AttemptSignal
from core.redis_client import connection

TTL_SECONDS = 2 * 24 * 3600
TIMELINE = 20
OPENING_MS = 10_000
BUCKET_MS = 10_000
MAX_AGENT = 300
MAX_HEADER = 200
RESERVATION = "reservation"
FCODE_INVALID = "fcode_invalid"
SCRIPT_CHUNK = 50  # attempts per script call: Redis runs each alone, so the gate waits <= ~2 ms
LUA_DIR = Path(__file__).with_name("lua")


@dataclass(frozen=True)
class Attempt:
    sale_id: int
    user_id: int
    kind: str            # "purchase", "reservation" or "fcode"
    at_ms: int           # when the gate saw it (epoch ms)
    opens_ms: int        # when the sale opened (epoch ms)
    device: str          # X-Device-Id ("" if none)
    ip: str
    user_agent: str
    headers: dict[str, str] = field(hash=False)  # lower-case names
    reserved: bool       # whether the account reserved this sale
    verdict: str         # the gate's answer: "admitted", "sold_out", "fcode_invalid", ...
    ticket: str = ""
    address_id: int | None = None

    @property
    def subnet(self) -> str:
        return subnet_of(self.ip)

    @property
    def at_opening(self) -> bool:
        return self.kind != RESERVATION and abs(self.at_ms - self.opens_ms) < OPENING_MS


@lru_cache(maxsize=65536)
def subnet_of(ip: str) -> str:
    """The /24 of an IPv4 address or the /64 of an IPv6 one; "" for anything else. Cached:
    parsing costs 20 us, and a rush's attempts come from far fewer addresses than there are
    attempts."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class Keys:
    """Redis key names of one sale (see the module docstring)."""

    def __init__(self, sale_id: int) -> None:
        self.prefix = f"rs:{sale_id}"

    def times(self, user_id: int) -> str:
        return f"{self.prefix}:a:{user_id}:t"

    def account_fcodes(self, user_id: int) -> str:
        return f"{self.prefix}:a:{user_id}:f"

    def device(self, device: str, what: str) -> str:
        return f"{self.prefix}:d:{device}:{what}"

    def ip_reservers(self, ip: str) -> str:
        return f"{self.prefix}:i:{ip}:r"

    def ip_bucket(self, ip: str, at_ms: int) -> str:
        return f"{self.prefix}:i:{ip}:v:{at_ms // BUCKET_MS}"

    def subnet_opening(self, subnet: str) -> str:
        return f"{self.prefix}:n:{subnet}:o"

    @property
    def clusters(self) -> str:
        return f"{self.prefix}:cl"


def sale_signals_forget(*, sale_id: int) -> int:
    """Delete a sale's realtime counters and its linking index: a new sale given the id of an
    old one (a database reset while Redis kept its keys) must not inherit the old sale's
    signals, nor link its shoppers to the old sale's."""
    client, deleted = connection(), 0
    batch = [key for prefix in (Keys(sale_id).prefix, LinkKeys(sale_id).prefix)
             for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    for start in range(0, len(batch), 1000):
        deleted += client.delete(*batch[start:start + 1000])
    return deleted


@cache
def script(name: str) -> Script:
    """A Lua script of antiscalper/lua, hashed once per process; call it with
    `client=connection()` (tests point the app at another Redis between calls)."""
    return Script(connection(), (LUA_DIR / f"{name}.lua").read_text())


def _record_args(attempt: Attempt) -> list[str]:
    """The 7 values record.lua reads per attempt."""
    if attempt.kind == RESERVATION:
        flags, subnet = "r", ""
    else:
        opening = abs(attempt.at_ms - attempt.opens_ms) < OPENING_MS
        flags, subnet = ("o" if opening else ""), subnet_of(attempt.ip)
    if attempt.verdict == FCODE_INVALID:
        flags += "f"
    return [str(attempt.user_id), str(attempt.at_ms), flags, attempt.device, attempt.ip,
            subnet, str(attempt.at_ms // BUCKET_MS)]


def _count(attempts: list[Attempt]) -> None:
    """The Redis counters of a batch: one script call per sale and SCRIPT_CHUNK attempts."""
    by_sale: dict[int, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        by_sale[attempt.sale_id].append(attempt)
    record, client = script("record"), connection()
    for sale_id, theirs in by_sale.items():
        for start in range(0, len(theirs), SCRIPT_CHUNK):
            chunk = [_record_args(a) for a in theirs[start:start + SCRIPT_CHUNK]]
            record(args=[Keys(sale_id).prefix, TTL_SECONDS, TIMELINE, json.dumps(chunk)],
                   client=client)


ROW_FIELDS = ("sale_id", "user_id", "kind", "at", "ms_since_open", "device", "ip", "subnet",
              "user_agent", "headers", "reserved", "verdict", "ticket", "address_id")


def _rows(attempts: list[Attempt]) -> list[tuple]:
    """AttemptSignal rows (ROW_FIELDS) as tuples; a batch's attempts share a few header
    dicts (one per client), so each is encoded once."""
    encoded: dict[int, str] = {}
    rows = []
    for a in attempts:
        headers = encoded.get(id(a.headers))
        if headers is None:
            headers = encoded[id(a.headers)] = json.dumps(
                {str(k)[:50]: str(v)[:MAX_HEADER] for k, v in (a.headers or {}).items()})
        rows.append((a.sale_id, a.user_id, a.kind[:12], ms_to_datetime(a.at_ms),
                     a.at_ms - a.opens_ms, a.device[:64], a.ip[:45], subnet_of(a.ip),
                     (a.user_agent or "")[:MAX_AGENT], headers, a.reserved, a.verdict[:30],
                     a.ticket[:64], a.address_id))
    return rows


def attempts_record(*, attempts: list[Attempt]) -> None:
    """Count the attempts in Redis (a script call per SCRIPT_CHUNK) and keep them in AttemptSignal.

    Call it before `risk_evaluate` on the same attempts: the counters then include them.
    Each account is marked as arrived for the incremental linking pass.
    """
    if not attempts:
        return
    _count(attempts)
    rows_insert(AttemptSignal, ROW_FIELDS, _rows(attempts))
    arrived: dict[tuple[int, bool], set[int]] = defaultdict(set)
    for attempt in attempts:
        arrived[(attempt.sale_id, bool(attempt.ticket))].add(attempt.user_id)
    for (sale_id, bought), users in arrived.items():  # after the rows: a step reads them
        participants_mark(sale_id=sale_id, user_ids=users, bought=bought)
