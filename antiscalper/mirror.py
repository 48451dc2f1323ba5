"""The blacklist mirror: one Redis set per identity kind, read by the admission gate.

`bl:<kind>` holds the values of that kind that are live on the blacklist (active, not
expired) and not live on the allowlist. The database is the record; these sets are a copy
the gate can check with SISMEMBER inside its Lua script.

Writers:
- `mirror_sync` recomputes one identity from the database and adds or removes it; services
  schedule it with `transaction.on_commit`, so the gate sees a change on the next purchase.
- `mirror_rebuild` recomputes every set and swaps them in at once (temporary keys renamed
  inside one MULTI). It runs periodically (expired entries drop out) and after a Redis loss.

Both read the database after WATCHing `bl:version` and bump it in their MULTI, so a sync or
rebuild that read the database before another writer's change cannot overwrite the newer
answer with an older one: its EXEC fails and it reads again. `bl:ready` is set by every
rebuild to the Redis dataset it was built on (`core.redis_dataset`); when it is missing (Redis
was flushed or lost) or names another dataset (Redis came back from an older snapshot, a
lagging replica was promoted), the mirror may miss recent entries: the gate refuses to sell
and the next sync or ensure rebuilds everything.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

import redis
from django.utils import timezone

from antiscalper import selectors
from core.redis_client import connection
from core.redis_dataset import dataset_of

logger = logging.getLogger("antiscalper.mirror")

# The set of each identity kind; sales/gate/admission.py passes these to the admission script.
BLACKLIST_KEYS: dict[str, str] = {
    "account": "bl:account",
    "device": "bl:device",
    "ip": "bl:ip",
    "phone": "bl:phone",
    "address": "bl:address",
    "payment": "bl:payment",
}
READY_KEY = "bl:ready"  # the dataset of the last full rebuild: else the mirror is not trusted
VERSION_KEY = "bl:version"  # bumped by every write; WATCHed so stale writers retry
ATTEMPTS = 10
CHUNK = 1000


class MirrorBusy(RuntimeError):
    """The mirror kept changing under a writer for ATTEMPTS tries in a row."""


def mirror_ready() -> bool:
    """Whether the mirror was rebuilt on the dataset Redis holds now."""
    return connection().get(READY_KEY) == dataset_of(connection())


def members(*, kind: str) -> set[str]:
    return connection().smembers(BLACKLIST_KEYS[kind])


def _watched(write) -> object:
    """Run `write(pipe)` (reads, then pipe.multi(), then writes) until no other writer raced."""
    for _ in range(ATTEMPTS):
        with connection().pipeline() as pipe:
            try:
                pipe.watch(VERSION_KEY)
                answer = write(pipe)
                pipe.incr(VERSION_KEY)
                pipe.execute()
                return answer
            except redis.WatchError:
                continue
    raise MirrorBusy("the blacklist mirror kept changing; the periodic rebuild will catch up")


def mirror_sync(*, kind: str, value: str, now: datetime | None = None) -> bool:
    """Put one identity in or out of its set according to the database; True if now in."""
    if not mirror_ready():
        sizes = mirror_rebuild(now=now)
        logger.warning("blacklist mirror was missing; rebuilt it: %s", sizes)
        return value in members(kind=kind)
    key = BLACKLIST_KEYS[kind]

    def write(pipe) -> bool:
        blocked = selectors.identity_blocked(kind=kind, value=value, now=now or timezone.now())
        pipe.multi()
        if blocked:
            pipe.sadd(key, value)
        else:
            pipe.srem(key, value)
        return blocked

    return _watched(write)


def mirror_rebuild(*, now: datetime | None = None) -> dict[str, int]:
    """Rewrite every set from the database atomically; returns the size of each set."""
    token = secrets.token_hex(6)

    def write(pipe) -> dict[str, int]:
        blocked = selectors.blocked_values(now=now or timezone.now())
        dataset = dataset_of(connection())
        pipe.multi()
        for kind, key in BLACKLIST_KEYS.items():
            values = sorted(blocked.get(kind, ()))
            if not values:
                pipe.delete(key)
                continue
            temporary = f"{key}:rebuild:{token}"
            pipe.delete(temporary)
            for start in range(0, len(values), CHUNK):
                pipe.sadd(temporary, *values[start:start + CHUNK])
            pipe.rename(temporary, key)
        pipe.set(READY_KEY, dataset)
        return {kind: len(blocked.get(kind, ())) for kind in BLACKLIST_KEYS}

    return _watched(write)
