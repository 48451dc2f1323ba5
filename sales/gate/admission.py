"""The admission gate's hot path: one purchase attempt decided by one Lua call.

`admit` makes no SQL query and one Redis round trip (the registered script, EVALSHA). Once the
gate answers `sold_out`, this process answers `sold_out` from memory for
SOLD_OUT_MEMO_SECONDS without asking Redis: only a real sold-out answer sets that memo, and
it expires by itself, so units given back by expiries are sold again. Reads of what a gate
holds are `sales.gate.holdings`; loading and rebuilding gates is `sales.gate.ops`.

A sale split into N buckets (`FlashSale.shards`, see `sales.gate.keys`) is asked in the
buyer's bucket, on the cluster master that holds it. A process that has not met the sale
assumes one bucket; the script then answers `reroute` with the count (one more round trip,
once per sale and process). A bucket out of units answers `empty` and counts nothing: units
are moved in from the others (`sales.gate.buckets.borrow`) and it is asked again, so
`sold_out` means every bucket is out. With one bucket none of this happens.
"""

from __future__ import annotations

import atexit
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import redis
from django.conf import settings

from antiscalper.mirror import READY_KEY as BLACKLIST_READY_KEY
from core.errors import DomainError, ErrorCode
from core.http import client_ip_of, client_of
from core.redis_client import clustered, node_url, topology_refresh
from core.snapshot import from_settings
from sales.gate import buckets, hotline
from sales.gate.keys import (
    ATTEMPTS_CAP,
    BLACKLIST_KEYS,
    FCODE_GUESS_LIMIT,
    FCODE_GUESS_WINDOW_SECONDS,
    SIGNALS_KEY,
    TICKET_TTL_SECONDS,
    SaleKeys,
    bucket_keys,
    bucket_of,
    code_hash,
    guess_keys,
    local_blacklist,
    script_source,
    ticket_new,
)

SOLD_OUT_MEMO_SECONDS = 1.0

# admit.lua's KEYS and ARGV, slot by slot, as its header names them (a test reads the header).
ADMIT_KEYS = ("meta", "stock", "bought", "idem", "queue", "seq", "ticket", "reservers",
              "blacklist_account", "blacklist_device", "blacklist_ip", "fstock", "fcodes",
              "rights", "guesses_account", "guesses_device", "signals", "blacklist_ready",
              "attempts", "rate")
ADMIT_ARGV = ("user", "quantity", "now_ms", "idempotency_key", "ticket", "device", "ip",
              "queue_bound", "ticket_ttl", "address", "fcode_hash", "guess_limit",
              "guess_window", "client", "attempts_cap", "rate_limit", "rate_window", "dataset",
              "shards", "borrow")
# The dataset slot is filled in by the hot line, with the dataset its own socket reaches.
DATASET_ARG = ADMIT_ARGV.index("dataset")


@dataclass(frozen=True, slots=True)
class Purchase:
    """One purchase attempt as the shopper's request states it, built once at the edge (the
    API view, the storefront's form, the rush path) and handed whole to the gate, which
    turns it into admit.lua's slots (`admit_keys`, `admit_argv`) and nothing else.

    `fcode` is the code as typed; only its HMAC leaves this process. `device`, `ip` and
    `client` are the anti-scalper signals the gate carries with the attempt."""

    sale_id: int
    user_id: int
    quantity: int = 1
    address_id: int | None = None
    idempotency_key: str | None = None
    device: str = ""
    ip: str = ""
    fcode: str | None = None
    client: str = "{}"

    @classmethod
    def of_request(cls, request, *, sale_id: int, user_id: int, data: dict,
                   idempotency_key: str | None, device: str) -> Purchase:
        """From a request (anything with `.META`) and its validated body (`purchase_input`):
        the client's IP behind the trusted proxies and its browser signals read here, once."""
        return cls(sale_id=sale_id, user_id=user_id, quantity=data["quantity"],
                   address_id=data["address_id"], idempotency_key=idempotency_key,
                   device=device, ip=client_ip_of(request), fcode=data["fcode"],
                   client=client_of(request))


def admit_keys(purchase: Purchase, ticket: str, *, shards: int = 1) -> list[str]:
    """admit.lua's KEYS, in ADMIT_KEYS order (the bucket's fixed ones built once per bucket),
    in the buyer's bucket of a sale of `shards` buckets."""
    if shards == 1:
        keys, head, middle, tail = _admit_keys(purchase.sale_id)
    else:
        keys, head, middle, tail = _admit_keys(purchase.sale_id,
                                               bucket_of(purchase.user_id, shards), shards)
    guesses = (keys.guesses(purchase.user_id, purchase.device) if local_blacklist()
               else guess_keys(purchase.user_id, purchase.device))
    return [*head, keys.ticket(ticket), *middle, *guesses, *tail, keys.rate(purchase.user_id)]


@from_settings
def _bounds() -> tuple[int, int, int]:
    """The queue bound and the purchase rate limit, read once per settings."""
    return (settings.GATE_QUEUE_BOUND, settings.PURCHASE_RATE_LIMIT,
            settings.PURCHASE_RATE_WINDOW_SECONDS)


def admit_argv(purchase: Purchase, *, ticket: str, now_ms: int, shards: int = 1,
               borrow: bool = False) -> list:
    """admit.lua's ARGV, in ADMIT_ARGV order; the dataset slot is left for the hot line."""
    queue_bound, rate_limit, rate_window = _bounds()
    return [purchase.user_id, purchase.quantity, now_ms, purchase.idempotency_key or "", ticket,
            purchase.device, purchase.ip, queue_bound, TICKET_TTL_SECONDS,
            purchase.address_id or "", code_hash(purchase.fcode) if purchase.fcode else "",
            FCODE_GUESS_LIMIT, FCODE_GUESS_WINDOW_SECONDS, purchase.client, ATTEMPTS_CAP,
            rate_limit, rate_window, "", shards, "1" if borrow else "0"]


def _hot_script(name: str, key: str = "") -> hotline.HotLine:
    """The admission script on this thread's own line to Redis (see `sales.gate.hotline`): on
    a cluster, its line to the master that holds `key`."""
    if not clustered():
        return hotline.line(name, script_source)
    return hotline.line(name, script_source, url=node_url(key))


@lru_cache(maxsize=1024)
def _admit_keys(sale_id: int, bucket: int = 0, shards: int = 1,
                ) -> tuple[SaleKeys, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """A bucket's keys, and its fixed keys for the admission script in its KEYS order, around
    the ticket's, the F-code guess counters' and the account's rate key (built once per
    bucket). On a cluster the blacklist sets, their ready stamp and the signals are the
    bucket's own."""
    keys = bucket_keys(sale_id, shards)[bucket]
    if local_blacklist():
        blacklist = tuple(keys.blacklist(kind) for kind in ("account", "device", "ip"))
        signals, ready = keys.signals, keys.blacklist_ready
    else:
        blacklist = tuple(BLACKLIST_KEYS[kind] for kind in ("account", "device", "ip"))
        signals, ready = SIGNALS_KEY, BLACKLIST_READY_KEY
    return (keys, (keys.meta, keys.stock, keys.bought, keys.idem, keys.queue, keys.seq),
            (keys.reservers, *blacklist, keys.fstock, keys.fcodes, keys.rights),
            (signals, ready, keys.attempts))


@dataclass(frozen=True)
class Admission:
    ticket: str
    position: int
    duplicate: bool = False


_sold_out_until: dict[int, float] = {}
_memo_lock = threading.Lock()


# Attempts answered from the memo never reach Redis; they are still signals (bots keep
# hammering after a sell-out), so they are buffered here and appended to their sales'
# attempts streams per MEMO_FLUSH_SIZE attempts or MEMO_FLUSH_SECONDS: one memo_attempts.lua
# call per sale in the batch (a round trip and one reply for up to MEMO_FLUSH_SIZE attempts).
MEMO_FLUSH_SIZE = 200
MEMO_FLUSH_SECONDS = 1.0
# Each buffered attempt: (sale id, user, at ms, device, ip, client).
_memo_attempts: list[tuple] = []
_memo_flushed_at = time.monotonic()


def _memo_record(purchase: Purchase, now_ms: int) -> None:
    memo_attempt_record(sale_id=purchase.sale_id, user_id=purchase.user_id, now_ms=now_ms,
                        device=purchase.device, ip=purchase.ip, client=purchase.client)


def sold_out_memo_fresh(sale_id: int) -> bool:
    """This process knows the sale sold out less than SOLD_OUT_MEMO_SECONDS ago (an open-rush
    purchase, one without an F-code, is then answered `sold_out` without asking Redis)."""
    until = _sold_out_until.get(sale_id)
    return until is not None and time.monotonic() < until


def memo_attempt_record(*, sale_id: int, user_id: int, now_ms: int, device: str, ip: str,
                        client: str) -> None:
    """Buffer an attempt the memo answered, with the fields admit.lua writes for one."""
    with _memo_lock:
        _memo_attempts.append((sale_id, user_id, now_ms, device, ip, client))
        due = (len(_memo_attempts) >= MEMO_FLUSH_SIZE
               or time.monotonic() - _memo_flushed_at >= MEMO_FLUSH_SECONDS)
    if due:
        memo_attempts_flush()


@lru_cache(maxsize=1024)
def _attempts_key(sale_id: int) -> str:
    return SaleKeys(sale_id).attempts


def _memo_calls(batch: list[tuple]) -> list[tuple]:
    """memo_attempts.lua's calls for a batch: one per sale, its attempts in arrival order."""
    per_sale: dict[int, list] = {}
    for sale_id, *attempt in batch:
        per_sale.setdefault(sale_id, []).extend(attempt)
    return [(_attempts_key(sale_id), args) for sale_id, args in per_sale.items()]


def memo_attempts_flush() -> int:
    """Append the buffered memo attempts to their sales' streams over this thread's line;
    returns how many. Best effort, never retried (a retry could write them twice): a sale
    whose append fails (a broken line, an error reply) loses that batch's signals, which
    costs the anti-scalper a few data points, not a sale; the other sales' still land."""
    global _memo_attempts, _memo_flushed_at
    with _memo_lock:
        batch, _memo_attempts = _memo_attempts, []
        _memo_flushed_at = time.monotonic()
    if not batch:
        return 0
    appended = 0
    for stream, args in _memo_calls(batch):
        try:
            memo_line = hotline.line("memo_attempts", script_source,  # this thread's line
                                     url=node_url(stream) if clustered() else None)
            memo_line(keys=[stream], args=[ATTEMPTS_CAP, *args])
        except redis.RedisError:
            continue  # this sale's signals are lost (best effort), the other sales' are not
        appended += len(args) // 5
    return appended


atexit.register(memo_attempts_flush)  # a worker's last second of memo attempts


def sold_out_memo_clear() -> None:
    """Forget what this process remembers of the gates' answers (sold out, bucket counts)."""
    with _memo_lock:
        _sold_out_until.clear()
        _shards.clear()


def sold_out_memo_forget(sale_id: int) -> None:
    """Units came back to this sale: ask the gate again on the next attempt."""
    with _memo_lock:
        _sold_out_until.pop(sale_id, None)


# The gate's refusals by error code. admit.lua's verdicts are these codes, except `no_right`
# (answered as NO_PURCHASE_RIGHT), `fcode_locked` and `invalid_quantity` (raised below).
REFUSALS = {
    ErrorCode.NOT_STARTED: "The sale has not started yet.",
    ErrorCode.ENDED: "The sale has ended.",
    ErrorCode.SOLD_OUT: "Sold out: no stock is left in this sale.",
    ErrorCode.LIMIT_REACHED: "You have reached this sale's per-user limit.",
    ErrorCode.RESERVATION_REQUIRED: "This sale needs a reservation, and this account holds none.",
    ErrorCode.BLOCKED: "This account cannot buy in this sale.",
    ErrorCode.BUSY: "The order queue is full; retry in a moment.",
    ErrorCode.UNAVAILABLE: "The sale is temporarily unavailable; nothing was sold. Retry shortly.",
    ErrorCode.FCODE_INVALID: "This F-code is wrong, used, expired or not yours.",
    ErrorCode.NO_PURCHASE_RIGHT: "This draw sale sells only to winners holding a purchase right.",
}


# The purchase reached Redis and then the line broke: it may have been admitted. A retry with
# the same Idempotency-Key gets the first answer; the ticket named here is the one it would
# have been given, so GET /tickets/{ticket} tells too.
OUTCOME_UNKNOWN = ("We lost the answer to this purchase: it may have gone through. Check the "
                   "ticket, or retry with the same Idempotency-Key to get its first answer.")


APPEAL = ("Write to the appeals desk (POST /api/v1/appeals) with your order or account "
          "details; a person reviews every appeal.")


def blocked_refusal() -> DomainError:
    """The `blocked` refusal, with where to appeal: the purchase's, and the reservation's."""
    return DomainError("blocked", REFUSALS["blocked"], details={"appeal": APPEAL})


# Buckets per sale as the gate last said (a sale not met yet: one). A loaded gate's count never
# changes; a wrong one costs a `reroute` answer and nothing else.
_shards: dict[int, int] = {}
# Times an empty bucket borrows for one attempt before it answers for itself: buyers of the same
# bucket may take what arrived before this one is asked again.
BORROW_ROUNDS = 3


def _ask(purchase: Purchase, ticket: str, now_ms: int, shards: int, borrow: bool) -> list:
    """One admit.lua call in the buyer's bucket."""
    keys = admit_keys(purchase, ticket, shards=shards)
    return _hot_script("admit", keys[0])(
        keys=keys, args=admit_argv(purchase, ticket=ticket, now_ms=now_ms, shards=shards,
                                   borrow=borrow),
        dataset_at=DATASET_ARG)


def _refilled(purchase: Purchase, ticket: str, now_ms: int, shards: int,
              answer: list) -> tuple[list, bool]:
    """The bucket was out: borrow from the others and ask again, up to BORROW_ROUNDS times.
    Nothing arrived means no bucket had any: the answer is then final, and a `sold_out` is
    the sale's; or the units left are in a bucket that fails closed: `unavailable`, nothing
    sold. Still out after the last round (other buyers of this bucket kept taking what
    arrived): the bucket answers for itself, and its `sold_out` is not memoised."""
    for _ in range(BORROW_ROUNDS):
        borrowed = buckets.borrow(sale_id=purchase.sale_id, shards=shards,
                                  bucket=bucket_of(purchase.user_id, shards), path=answer[1],
                                  units=purchase.quantity)
        if not borrowed.arrived and borrowed.out_of_reach:
            return ["unavailable"], False
        answer = _ask(purchase, ticket, now_ms, shards, borrowed.arrived > 0)
        if answer[0] != "empty":
            return answer, True
    return _ask(purchase, ticket, now_ms, shards, False), False


def _decide(purchase: Purchase, ticket: str, now_ms: int) -> tuple[list, bool]:
    """The script's answer, in the right bucket, with units moved in while the bucket is out
    and another holds some; and whether a `sold_out` in it is every bucket's (memoisable)."""
    shards = _shards.get(purchase.sale_id, 1)
    answer = _ask(purchase, ticket, now_ms, shards, shards > 1)
    if answer[0] == "reroute":
        shards = _shards[purchase.sale_id] = int(answer[1])
        answer = _ask(purchase, ticket, now_ms, shards, shards > 1)
    everywhere = True
    if answer[0] == "empty":
        answer, everywhere = _refilled(purchase, ticket, now_ms, shards, answer)
    if answer[0] in ("reroute", "empty"):
        return ["unavailable"], False  # the gate changed under the call: nothing was counted
    if answer[0] == "unavailable" and shards > 1:
        # Lost, stale, or gone with its sale (wiped, the id reused with another count): the
        # next attempt asks the router again.
        _shards.pop(purchase.sale_id, None)
    return answer, everywhere


def admit(*, purchase: Purchase, now_ms: int) -> Admission:
    """Decide one purchase attempt atomically; raise a DomainError with the refusal's code."""
    sale_id = purchase.sale_id
    until = None if purchase.fcode else _sold_out_until.get(sale_id)
    if until is not None:
        if time.monotonic() < until:
            _memo_record(purchase, now_ms)
            raise DomainError("sold_out", REFUSALS["sold_out"])
        sold_out_memo_forget(sale_id)
    ticket = ticket_new(sale_id, user_id=purchase.user_id, issued_ms=now_ms)
    try:
        answer, everywhere = _decide(purchase, ticket, now_ms)
    except hotline.OutcomeUnknown:
        topology_refresh()
        raise DomainError("unavailable", OUTCOME_UNKNOWN, status=503,
                          details={"outcome": "unknown", "ticket": ticket}) from None
    except redis.RedisError:
        topology_refresh()  # a cluster's master lost or moved: ask the cluster again
        raise DomainError("unavailable", REFUSALS["unavailable"]) from None
    verdict = answer[0]
    if verdict == "admitted":
        return Admission(ticket=answer[1], position=int(answer[2]))
    if verdict == "duplicate":
        return Admission(ticket=answer[1], position=0, duplicate=True)
    if verdict == "sold_out" and answer[1] == "open" and everywhere:
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
        code = (ErrorCode.FCODE_INVALID if verdict == "fcode_invalid"
                else ErrorCode.NO_PURCHASE_RIGHT)
        raise DomainError(code, REFUSALS[code])
    if verdict == "invalid_quantity":
        raise DomainError("invalid", f"At most {answer[1]} per customer in this sale.",
                          details={"quantity": [f"must be at most {answer[1]}"]})
    if verdict == "blocked":
        raise blocked_refusal()
    details: dict = {}
    if verdict == "limit_reached":
        details = {"limit": int(answer[1])}
    elif verdict in ("not_started", "ended"):
        moment = datetime.fromtimestamp(int(answer[1]) / 1000, tz=UTC).isoformat()
        details = {"starts_at" if verdict == "not_started" else "ends_at": moment}
    status = 503 if verdict in ("unavailable", "busy") else None
    raise DomainError(verdict, REFUSALS[verdict], details=details, status=status)
