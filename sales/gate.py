"""The admission gate: a sale's stock, buyers and queue in Redis, decided by Lua scripts.

The hot path (`admit`) makes no SQL query and one Redis round trip (the registered script,
EVALSHA). Once the gate answers `sold_out`, this process answers `sold_out` from memory for
SOLD_OUT_MEMO_SECONDS without asking Redis: only a real sold-out answer sets that memo, and
it expires by itself, so units given back by expiries are sold again.
"""

from __future__ import annotations

import atexit
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import redis
from django.conf import settings

from antiscalper.mirror import BLACKLIST_KEYS as MIRROR_KEYS
from antiscalper.mirror import READY_KEY as BLACKLIST_READY_KEY
from shop.errors import DomainError

LUA_DIR = Path(__file__).with_name("lua")
SOLD_OUT_MEMO_SECONDS = 1.0
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


@cache
def connection() -> redis.Redis:
    """This process's client for the gate's Redis (the pool is re-created after a fork)."""
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True,
                                health_check_interval=30)


@cache
def _script(name: str):
    return connection().register_script((LUA_DIR / f"{name}.lua").read_text())


_hot = threading.local()


def _hot_script(name: str):
    """The admission script bound to this thread's own connection.

    A pooled client checks a connection out (with a readiness poll) on every command; the hot
    path keeps one connection per thread instead, so an admission costs one send and one read.
    """
    scripts = getattr(_hot, "scripts", None)
    if scripts is None or _hot.pid != os.getpid():
        client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True,
                                      single_connection_client=True)
        _hot.pid, _hot.scripts = os.getpid(), {}
        _hot.client, scripts = client, _hot.scripts
    if name not in scripts:
        scripts[name] = _hot.client.register_script((LUA_DIR / f"{name}.lua").read_text())
    return scripts[name]


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

    def ticket(self, ticket: str) -> str:
        return self._k(f"t:{ticket}")

    def rate(self, user_id: int) -> str:
        return self._k(f"rl:{user_id}")


@dataclass(frozen=True)
class Admission:
    ticket: str
    position: int
    duplicate: bool = False


@dataclass(frozen=True)
class SaleGateConfig:
    sale_id: int
    epoch: int
    starts_ms: int
    ends_ms: int
    per_user_limit: int
    requires_reservation: bool
    draw: bool = False

    def argv(self) -> list:
        return [self.epoch, self.starts_ms, self.ends_ms, self.per_user_limit,
                int(self.requires_reservation), int(self.draw)]


_sold_out_until: dict[int, float] = {}
_memo_lock = threading.Lock()


# Attempts answered from the memo never reach Redis; they are still signals (bots keep
# hammering after a sell-out), so they are buffered here and appended to the sale's attempts
# stream in one pipelined round trip per MEMO_FLUSH_SIZE attempts or MEMO_FLUSH_SECONDS.
MEMO_FLUSH_SIZE = 200
MEMO_FLUSH_SECONDS = 1.0
_memo_attempts: list[tuple[int, dict]] = []
_memo_flushed_at = time.monotonic()


def _memo_record(sale_id: int, fields: dict) -> None:
    global _memo_flushed_at
    with _memo_lock:
        _memo_attempts.append((sale_id, fields))
        due = (len(_memo_attempts) >= MEMO_FLUSH_SIZE
               or time.monotonic() - _memo_flushed_at >= MEMO_FLUSH_SECONDS)
    if due:
        memo_attempts_flush()


def memo_attempts_flush() -> int:
    """Append the buffered memo attempts to their sales' streams; returns how many."""
    global _memo_attempts, _memo_flushed_at
    with _memo_lock:
        batch, _memo_attempts = _memo_attempts, []
        _memo_flushed_at = time.monotonic()
    if not batch:
        return 0
    pipe = connection().pipeline(transaction=False)
    for sale_id, fields in batch:
        pipe.xadd(SaleKeys(sale_id).attempts, fields, maxlen=ATTEMPTS_CAP, approximate=True)
    try:
        pipe.execute()
    except redis.RedisError:
        return 0  # signals are best effort; the sale itself is unaffected
    return len(batch)


atexit.register(memo_attempts_flush)  # a worker's last second of memo attempts


def sold_out_memo_clear() -> None:
    with _memo_lock:
        _sold_out_until.clear()


def ticket_new(sale_id: int) -> str:
    """A ticket id that names its sale and cannot be guessed (64 random bits)."""
    return f"{sale_id}-{secrets.token_hex(8)}"


def sale_id_of_ticket(ticket: str) -> int | None:
    head, _, tail = ticket.partition("-")
    if not head.isdigit() or len(tail) != 16:
        return None
    return int(head)


REFUSALS = {
    "not_started": "The sale has not started yet.",
    "ended": "The sale has ended.",
    "sold_out": "Sold out: no stock is left in this sale.",
    "limit_reached": "You have reached this sale's per-user limit.",
    "reservation_required": "This sale needs a reservation, and this account holds none.",
    "blocked": "This account cannot buy in this sale.",
    "busy": "The order queue is full; retry in a moment.",
    "unavailable": "The sale is temporarily unavailable; nothing was sold. Retry shortly.",
    "fcode_invalid": "This F-code is wrong, used, expired or not yours.",
    "no_right": "This draw sale sells only to winners holding a purchase right.",
}


def admit(*, sale_id: int, user_id: int, quantity: int, now_ms: int,
          idempotency_key: str | None = None, device: str = "", ip: str = "",
          address_id: int | None = None, fcode_hash: str = "", client: str = "{}") -> Admission:
    """Decide one purchase attempt atomically; raise a DomainError with the refusal's code."""
    until = None if fcode_hash else _sold_out_until.get(sale_id)
    if until is not None:
        if time.monotonic() < until:
            _memo_record(sale_id, {"user": user_id, "at": now_ms, "verdict": "sold_out",
                                   "device": device, "ip": ip, "client": client, "fcode": "0",
                                   "ticket": "", "memo": "1"})
            raise DomainError("sold_out", REFUSALS["sold_out"])
        with _memo_lock:
            _sold_out_until.pop(sale_id, None)
    keys = SaleKeys(sale_id)
    ticket = ticket_new(sale_id)
    try:
        answer = _hot_script("admit")(
            keys=[keys.meta, keys.stock, keys.bought, keys.idem, keys.queue, keys.seq,
                  keys.ticket(ticket), keys.reservers, BLACKLIST_KEYS["account"],
                  BLACKLIST_KEYS["device"], BLACKLIST_KEYS["ip"], keys.fstock, keys.fcodes,
                  keys.rights, *guess_keys(user_id, device), SIGNALS_KEY,
                  BLACKLIST_READY_KEY, keys.attempts, keys.rate(user_id)],
            args=[user_id, quantity, now_ms, idempotency_key or "", ticket, device, ip,
                  settings.GATE_QUEUE_BOUND, TICKET_TTL_SECONDS, address_id or "", fcode_hash,
                  FCODE_GUESS_LIMIT, FCODE_GUESS_WINDOW_SECONDS, client, ATTEMPTS_CAP,
                  settings.PURCHASE_RATE_LIMIT, settings.PURCHASE_RATE_WINDOW_SECONDS],
        )
    except redis.RedisError:
        raise DomainError("unavailable", REFUSALS["unavailable"]) from None
    verdict = answer[0]
    if verdict == "admitted":
        return Admission(ticket=answer[1], position=int(answer[2]))
    if verdict == "duplicate":
        return Admission(ticket=answer[1], position=0, duplicate=True)
    if verdict == "sold_out" and answer[1] == "open":
        with _memo_lock:
            _sold_out_until[sale_id] = time.monotonic() + SOLD_OUT_MEMO_SECONDS
    if verdict == "rate_limited":
        raise DomainError("rate_limited", "Too many purchase attempts; slow down.",
                          details={"retry_after": max(int(answer[1]), 1)})
    if verdict == "fcode_locked":
        retry = max(int(answer[1]), 1)
        raise DomainError("rate_limited", "Too many wrong F-codes; try again later.",
                          details={"retry_after": retry})
    if verdict in ("fcode_invalid", "no_right"):
        raise DomainError(verdict if verdict == "fcode_invalid" else "no_purchase_right",
                          REFUSALS[verdict])
    if verdict == "invalid_quantity":
        raise DomainError("invalid", f"At most {answer[1]} per customer in this sale.",
                          details={"quantity": [f"must be at most {answer[1]}"]})
    if verdict == "blocked":
        raise DomainError("blocked", REFUSALS["blocked"], details={
            "appeal": "Write to the appeals desk (POST /api/v1/appeals) with your order or "
                      "account details; a person reviews every appeal."})
    details: dict = {}
    if verdict == "limit_reached":
        details = {"limit": int(answer[1])}
    elif verdict in ("not_started", "ended"):
        moment = datetime.fromtimestamp(int(answer[1]) / 1000, tz=UTC).isoformat()
        details = {"starts_at" if verdict == "not_started" else "ends_at": moment}
    status = 503 if verdict in ("unavailable", "busy") else None
    raise DomainError(verdict, REFUSALS[verdict], details=details, status=status)


def _ensure_group(queue: str) -> None:
    try:
        connection().xgroup_create(queue, PIPELINE_GROUP, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


@dataclass(frozen=True)
class Holders:
    """Who may buy through the side doors: reservers, F-codes and draw rights."""

    reservers: list[int]
    codes: dict[str, str]          # code hmac -> "user|expires_ms|used"
    rights: dict[int, str]         # user -> code hmac of the user's draw right

    @classmethod
    def none(cls) -> Holders:
        return cls(reservers=[], codes={}, rights={})


def holders_add(*, sale_id: int, holders: Holders) -> None:
    """Add reservers, codes and rights; an existing code keeps its state (used stays used)."""
    keys, pipe = SaleKeys(sale_id), connection().pipeline(transaction=False)
    for start in range(0, len(holders.reservers), 5000):
        pipe.sadd(keys.reservers, *holders.reservers[start:start + 5000])
    for code, entry in holders.codes.items():
        pipe.hsetnx(keys.fcodes, code, entry)
    for user, code in holders.rights.items():
        pipe.hset(keys.rights, user, code)
    pipe.execute()


def _sale_keys(sale_id: int) -> list[str]:
    keys = SaleKeys(sale_id)
    return [keys.meta, keys.stock, keys.fstock, keys.bought, keys.idem, keys.queue, keys.seq,
            keys.processed, keys.reservers, keys.fcodes, keys.rights, keys.returned,
            keys.attempts]


def incarnation_check(*, sale_id: int, incarnation: int) -> bool:
    """Wipe a gate left by another sale with the same id (a database restored or reset while
    Redis kept its keys): its counters would sell this sale's units by another sale's stock.
    Returns True when a stale gate was wiped."""
    found = connection().hget(SaleKeys(sale_id).meta, "incarnation")
    if found is None or found == str(incarnation):
        return False
    wipe(sale_id=sale_id)
    return True


def incarnation_mark(*, sale_id: int, incarnation: int) -> None:
    connection().hset(SaleKeys(sale_id).meta, "incarnation", incarnation)


def wipe(*, sale_id: int) -> None:
    """Remove every key of a sale's gate (its tickets' records expire by themselves)."""
    connection().delete(*_sale_keys(sale_id))
    sold_out_memo_clear()


def load(*, config: SaleGateConfig, stock: int, fcode_stock: int = 0,
         holders: Holders | None = None) -> bool:
    """Load a sale into the gate unless it is already loaded (never resets a loaded gate)."""
    keys = SaleKeys(config.sale_id)
    holders_add(sale_id=config.sale_id, holders=holders or Holders.none())
    created = _script("load")(keys=[keys.meta, keys.stock, keys.fstock],
                              args=[*config.argv(), stock, fcode_stock])
    _ensure_group(keys.queue)
    return bool(created)


def rebuild(*, config: SaleGateConfig, stock: int, held: int, fcode_stock: int,
            fcode_held: int, held_by_user: dict[int, int], returned: list[str],
            holders: Holders | None = None) -> tuple[int, int]:
    """Rewrite a gate from the database's counts; returns (units left, units still queued).

    `returned` are the tokens of every release the database records: they are marked done
    first, so a release still on its way cannot add a unit the rebuild already counts."""
    keys = SaleKeys(config.sale_id)
    holders_add(sale_id=config.sale_id, holders=holders or Holders.none())
    pipe = connection().pipeline(transaction=False)
    for start in range(0, len(returned), 5000):
        pipe.sadd(keys.returned, *returned[start:start + 5000])
    pipe.execute()
    pairs = [value for user, units in held_by_user.items() if units for value in (user, units)]
    left, queued, _ = _script("rebuild")(
        keys=[keys.meta, keys.stock, keys.bought, keys.queue, keys.fstock],
        args=[*config.argv(), stock, held, fcode_stock, fcode_held, *pairs],
    )
    _ensure_group(keys.queue)
    sold_out_memo_clear()
    return int(left), int(queued)


def quota_release(*, sale_id: int, units: int) -> int:
    """Move up to `units` unused F-code units to the open rush; returns the units moved."""
    keys = SaleKeys(sale_id)
    moved = _script("quota_release")(keys=[keys.meta, keys.stock, keys.fstock], args=[units])
    if moved < 0:
        raise DomainError("unavailable", REFUSALS["unavailable"], status=503)
    sold_out_memo_clear()
    return int(moved)


def adjust(*, sale_id: int, delta: int) -> int:
    """Add (or remove, if still unsold) units in a loaded gate; returns the units left."""
    keys = SaleKeys(sale_id)
    answer = _script("adjust")(keys=[keys.meta, keys.stock], args=[delta])
    if answer[0] == "unavailable":
        raise DomainError("unavailable", REFUSALS["unavailable"], status=503)
    if answer[0] == "insufficient":
        raise DomainError("stock_sold", f"Only {answer[1]} unsold unit(s) can be removed.",
                          details={"unsold": int(answer[1])})
    return int(answer[1])


def release(*, sale_id: int, user_id: int, units: int, token: str,
            fcode: bool = False) -> bool:
    """Give units back to a loaded gate (to the F-code quota if they came from it), once per
    `token` ("o:<order>" or "t:<ticket>"); False when nothing was done."""
    keys = SaleKeys(sale_id)
    counter = keys.fstock if fcode else keys.stock
    done = _script("release")(keys=[keys.meta, counter, keys.bought, keys.returned],
                              args=[user_id, units, token])
    with _memo_lock:
        _sold_out_until.pop(sale_id, None)
    return bool(done)


def codes_spent(*, sale_id: int, code_hashes: list[str]) -> set[str]:
    """Which of these codes (or rights) the gate has marked used."""
    if not code_hashes:
        return set()
    entries = connection().hmget(SaleKeys(sale_id).fcodes, code_hashes)
    return {h for h, entry in zip(code_hashes, entries, strict=True)
            if entry and entry.endswith("|1")}


def fcode_unspend(*, sale_id: int, code_hash: str) -> None:
    """A ticket redeemed with this code was rejected: the code may be used again."""
    keys = SaleKeys(sale_id)
    entry = connection().hget(keys.fcodes, code_hash)
    if entry and entry.endswith("|1"):
        connection().hset(keys.fcodes, code_hash, entry[:-1] + "0")


@dataclass(frozen=True)
class GateState:
    loaded: bool
    epoch: int | None
    stock_left: int | None
    queued: int
    bought: dict[int, int]
    fcode_stock_left: int | None = None


def state(*, sale_id: int) -> GateState:
    """What the gate holds for a sale right now (for reconciliation and the sale API)."""
    keys = SaleKeys(sale_id)
    pipe = connection().pipeline(transaction=True)
    pipe.hget(keys.meta, "loaded").hget(keys.meta, "epoch").get(keys.stock)
    pipe.xlen(keys.queue).hgetall(keys.bought).get(keys.fstock)
    loaded, epoch, stock, queued, bought, fstock = pipe.execute()
    return GateState(
        loaded=loaded == "1", epoch=int(epoch) if epoch is not None else None,
        stock_left=int(stock) if stock is not None else None, queued=int(queued),
        bought={int(user): int(units) for user, units in bought.items()},
        fcode_stock_left=int(fstock) if fstock is not None else None,
    )


def stock_left(*, sale_id: int) -> int | None:
    """Units left in the gate, or None when the sale is not loaded (one Redis round trip)."""
    value = connection().get(SaleKeys(sale_id).stock)
    return int(value) if value is not None else None
