"""Incremental linking: decide a new participant within a second or two of its arrival, by
linking only the accounts that arrived against the sale's identifier index (issue 16, point 3).

The full pass (`linking.linking_run`, beat once a minute) reads every participant of the sale,
which in a big sale takes long enough that a ring could pay before it is decided. This pass
runs every second and reads only what changed:

- Every account that arrives (an attempt recorded, reservations included, or an order
  written) is marked in the sale's *dirty* set (`participants_mark`): buyers in one, the
  others in another taken after it.
- A step moves the dirty set into its *work* set (atomically, so an account is never lost
  between two steps), adds the work's identifiers to the sale's *index* in Redis (identifier
  -> the participants holding it, participant -> its identifiers, as `holders.identifiers`
  reads them raw), and takes the *region* of the graph they touch: every participant reached
  from them over identifiers that may link (`_may_link`, never weaker than the strength the
  full pass gives them). A region closed that way is a union of whole clusters of the full
  pass, so `linking.clusters_find` over it (with the signal kinds counted over the whole
  sale, from the index) yields exactly the full pass's clusters for those accounts, and
  `linking.clusters_decide` decides them as the full pass would. The property test
  (antiscalper/tests/test_incremental.py) checks this for any order of arrivals.
- The work set is emptied only once the caller has cancelled what the step blocked: a
  worker killed mid-step leaves it, and the next step decides it again. Decisions are never
  repeated (linking stores a decision only when it grows stronger) and cancellations are
  once per order (`sales.returns`), so a rerun changes nothing.

The full pass stays the reconciler: what the index cannot see (an address added without a
new attempt, a store-wide population that grew, a payment) it decides within a minute. It
reads the sale without holding the steps up and writes its decisions under the lock they
write under (`linking.DECIDING`), so one writer decides a sale at a time.

Redis keys per sale `s` (TTL two days, as the attempt counters; `attempts.sale_signals_forget`
deletes them with those when a new sale is given an old one's id):

  lk:{s}:dirty          set    accounts admitted or holding an order since the last step
  lk:{s}:rest           set    the others arrived since (lost the race, reserved): taken
                               after those, so a rush's losers never delay a buyer's decision
  lk:{s}:work           set    accounts the current (or a crashed) step is deciding
  lk:{s}:a:{user}       set    the account's identifiers, "kind<US>value"
  lk:{s}:i:{kind<US>value}  set    the participants holding it
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache

from django.utils import timezone
from redis.commands.core import Script

from antiscalper import holders, linking
from antiscalper.arrivals import TTL_SECONDS, LinkKeys, participants_mark
from antiscalper.attempts import script
from core.redis_client import connection

__all__ = ["linking_step", "participants_mark", "pending", "region", "step_decide"]

SEP = "\x1f"
INDEX_CHUNK = 200  # identifiers per index.lua call (about a millisecond of Redis each)
BATCH = 5000  # accounts a step takes at most (a Lua unpack stays well under its limit)
WAIT_SECONDS = 0.5  # how long a step waits for a full pass's deciding before the next tick
# A step takes well under a second; one killed with the lock frees it after this (the next
# steps wait that long).
STEP_LOCK_SECONDS = 30
# Kinds whose every sale holder is in the region whatever their strength: a building's
# strength is its genuine population and a phone block's its normal holders, not the sale's
# holders (a block four newcomers hold ties them at full strength); a copied payment
# instrument or phone number counts its established holders into its copiers' proven group
# even when too common to link (holders._newcomers_apart; an issued device id too), which
# needs the other holders in view.
ALWAYS_FOLLOW = frozenset({"building", "phone_block", "payment", "verified_phone",
                           "issued_device"})

# Move up to ARGV[1] accounts into the work set, those that bought first: one atomic call,
# so an account is in one set or the other whenever a worker dies.
_CLAIM = """
local room = tonumber(ARGV[1])
for _, from in ipairs({KEYS[1], KEYS[2]}) do
  if room > 0 then
    local moved = redis.call('SPOP', from, room)
    if #moved > 0 then redis.call('SADD', KEYS[3], unpack(moved)) end
    room = room - #moved
  end
end
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[2]))
return redis.call('SMEMBERS', KEYS[3])
"""


def _encode(key: tuple[str, str]) -> str:
    return f"{key[0]}{SEP}{key[1]}"


def _text(encoded: bytes | str) -> str:
    return encoded.decode() if isinstance(encoded, bytes) else encoded


@cache
def _claim_script() -> Script:
    return Script(connection(), _CLAIM)


def pending(*, sale_id: int) -> int:
    """Accounts waiting for a step (dirty, and left by a crashed step)."""
    keys = LinkKeys(sale_id)
    with connection().pipeline(transaction=False) as pipe:
        pipe.scard(keys.dirty).scard(keys.rest).scard(keys.work)
        return sum(pipe.execute())


def _index(sale_id: int, users: set[int]) -> None:
    """Add what these participants hold to the sale's index (index.lua, INDEX_CHUNK
    identifiers a call so the gate never waits long behind it; idempotent: sets)."""
    held, _ = holders.identifiers(sale_id, nodes=users, raw=True)
    entries = [[_encode(key), sorted(holding)] for key, holding in held.holders.items()
               if holding]
    index, client, prefix = script("index"), connection(), LinkKeys(sale_id).prefix
    with client.pipeline(transaction=False) as pipe:
        for start in range(0, len(entries), INDEX_CHUNK):
            chunk = json.dumps(entries[start:start + INDEX_CHUNK], ensure_ascii=False)
            index(args=[prefix, TTL_SECONDS, chunk], client=pipe)
        pipe.execute()


def _may_link(kind: str, holding: int) -> bool:
    """Whether an identifier held by `holding` of the sale's participants may tie them: never
    false where the full pass could find it strong enough (its population is at least
    `holding` for every kind but those always followed)."""
    if kind in ALWAYS_FOLLOW or kind not in linking.BASE:
        return True
    return linking.strength(kind=kind, accounts=holding) >= linking.LINK_MIN


def region(*, sale_id: int, seeds: set[int]) -> set[int]:
    """The seeds and every participant reached from them over identifiers that may link: a
    union of whole clusters of the full pass (a few Redis round trips per hop)."""
    keys, client = LinkKeys(sale_id), connection()
    members, frontier, visited = set(seeds), set(seeds), set()
    while frontier:
        with client.pipeline(transaction=False) as pipe:
            for user_id in frontier:
                pipe.smembers(keys.account(user_id))
            found = {_text(key) for held in pipe.execute() for key in held} - visited
        visited |= found
        ordered = sorted(found)
        with client.pipeline(transaction=False) as pipe:
            for encoded in ordered:
                pipe.scard(keys.identifier(encoded))
            counts = pipe.execute()
        follow = [e for e, n in zip(ordered, counts, strict=True)
                  if n >= 2 and _may_link(e.partition(SEP)[0], n)]
        with client.pipeline(transaction=False) as pipe:
            for encoded in follow:
                pipe.smembers(keys.identifier(encoded))
            reached = {int(u) for held in pipe.execute() for u in held}
        frontier = reached - members
        members |= frontier
    return members


def graph(*, sale_id: int, nodes: set[int]) -> tuple[holders.Held, dict]:
    """`holders.identifiers` over a region, its signal kinds counted over the whole sale (the
    index's holders of each device and subnet), as the full pass counts them."""
    held, population = holders.identifiers(sale_id, nodes=nodes)
    signal_keys = [key for key in population if key[0] in holders.SIGNAL_KINDS]
    if signal_keys:
        keys = LinkKeys(sale_id)
        with connection().pipeline(transaction=False) as pipe:
            for key in signal_keys:
                pipe.scard(keys.identifier(_encode(key)))
            for key, count in zip(signal_keys, pipe.execute(), strict=True):
                population[key] = max(count, len(held.holders[key]))
    return held, population


@contextmanager
def linking_step(*, sale_id: int, now: datetime | None = None,
                 staked: linking.Staked | None = None, limit: int = BATCH,
                 ) -> Iterator[list[int]]:
    """Decide the accounts that arrived since the last step; yields the accounts to cancel.

    The caller cancels them inside the `with`; only when it leaves without an error is the
    step's work done (a crash or an error leaves it for the next step, which decides it again
    and changes nothing already stored). Skips (yields []) while another step or the full
    pass's deciding holds the sale longer than WAIT_SECONDS: the accounts wait in the dirty
    set. The full pass's reading of the whole sale does not hold steps up.
    """
    with linking.sale_lock(sale_id, linking.DECIDING, wait=WAIT_SECONDS,
                           timeout=STEP_LOCK_SECONDS) as held:
        if not held:
            yield []
            return
        keys = LinkKeys(sale_id)
        work = {int(u) for u in _claim_script()(keys=[keys.dirty, keys.rest, keys.work],
                                                args=[limit, TTL_SECONDS],
                                                client=connection())}
        if not work:
            yield []
            return
        yield sorted(step_decide(sale_id=sale_id, work=work, now=now or timezone.now(),
                                 staked=staked))
        connection().srem(keys.work, *work)


def step_decide(*, sale_id: int, work: set[int], now: datetime,
                staked: linking.Staked | None = None) -> set[int]:
    """Index the work, find the region it touches, decide that region's clusters; the
    accounts blocked (to cancel). Public so a worker's death after it can be staged."""
    _index(sale_id, work)
    nodes = region(sale_id=sale_id, seeds=work)
    clusters = linking.clusters_find(sale_id=sale_id, graph=graph(sale_id=sale_id,
                                                                  nodes=nodes))
    blocked = linking.clusters_decide(sale_id=sale_id, clusters=clusters, now=now,
                                      staked=staked)
    return blocked | (linking.confirmed_blocks(sale_id, now) & nodes)  # and ops' answers
