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
  rs:{s}:i:{ip}:r         zset   accounts that reserved from the IP (first time, ms)
  rs:{s}:i:{ip}:v:{b}     int    attempts from the IP in 10-second bucket b
  rs:{s}:n:{subnet}:o     set    accounts on the /24 (/64) within 10 s of the opening
  rs:{s}:cl               hash   account -> size of its linked cluster (written by linking)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime

from antiscalper.mirror import connection
from antiscalper.models import AttemptSignal

TTL_SECONDS = 2 * 24 * 3600
TIMELINE = 20
OPENING_MS = 10_000
BUCKET_MS = 10_000
MAX_AGENT = 300
MAX_HEADER = 200
RESERVATION = "reservation"
FCODE_INVALID = "fcode_invalid"


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


def subnet_of(ip: str) -> str:
    """The /24 of an IPv4 address or the /64 of an IPv6 one; "" for anything else."""
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
    """Delete a sale's realtime counters: a new sale given the id of an old one (a database
    reset while Redis kept its keys) must not inherit the old sale's signals."""
    client, deleted = connection(), 0
    batch = list(client.scan_iter(match=f"{Keys(sale_id).prefix}:*", count=1000))
    for start in range(0, len(batch), 1000):
        deleted += client.delete(*batch[start:start + 1000])
    return deleted


def _record(pipe, attempt: Attempt) -> None:
    keys, user = Keys(attempt.sale_id), attempt.user_id
    touched = []
    if attempt.kind == RESERVATION:
        if attempt.device:
            touched.append(keys.device(attempt.device, "r"))
            pipe.zadd(touched[-1], {user: attempt.at_ms}, nx=True)
        if attempt.ip:
            touched.append(keys.ip_reservers(attempt.ip))
            pipe.zadd(touched[-1], {user: attempt.at_ms}, nx=True)
    else:
        touched.append(keys.times(user))
        pipe.lpush(touched[-1], attempt.at_ms)
        pipe.ltrim(touched[-1], 0, TIMELINE - 1)
        if attempt.device:
            touched.append(keys.device(attempt.device, "u"))
            pipe.sadd(touched[-1], user)
            if attempt.at_opening:
                touched.append(keys.device(attempt.device, "o"))
                pipe.sadd(touched[-1], user)
        if attempt.ip:
            touched.append(keys.ip_bucket(attempt.ip, attempt.at_ms))
            pipe.incr(touched[-1])
        if attempt.subnet and attempt.at_opening:
            touched.append(keys.subnet_opening(attempt.subnet))
            pipe.sadd(touched[-1], user)
    if attempt.verdict == FCODE_INVALID:
        touched.append(keys.account_fcodes(user))
        pipe.incr(touched[-1])
        if attempt.device:
            touched.append(keys.device(attempt.device, "f"))
            pipe.incr(touched[-1])
    for key in touched:
        pipe.expire(key, TTL_SECONDS)


def _row(attempt: Attempt) -> AttemptSignal:
    headers = {str(k)[:50]: str(v)[:MAX_HEADER] for k, v in (attempt.headers or {}).items()}
    return AttemptSignal(
        sale_id=attempt.sale_id, user_id=attempt.user_id, kind=attempt.kind[:12],
        at=ms_to_datetime(attempt.at_ms), ms_since_open=attempt.at_ms - attempt.opens_ms,
        device=attempt.device[:64], ip=attempt.ip[:45], subnet=attempt.subnet,
        user_agent=(attempt.user_agent or "")[:MAX_AGENT], headers=headers,
        reserved=attempt.reserved, verdict=attempt.verdict[:30], ticket=attempt.ticket[:64],
        address_id=attempt.address_id)


def attempts_record(*, attempts: list[Attempt]) -> None:
    """Count the attempts in Redis (one pipelined round trip) and keep them in AttemptSignal.

    Call it before `risk_evaluate` on the same attempts: the counters then include them.
    """
    if not attempts:
        return
    with connection().pipeline(transaction=False) as pipe:
        for attempt in attempts:
            _record(pipe, attempt)
        pipe.execute()
    AttemptSignal.objects.bulk_create([_row(a) for a in attempts], batch_size=1000)
