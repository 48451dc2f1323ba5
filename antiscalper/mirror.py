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

On a Redis Cluster (settings.REDIS_CLUSTER_URL) the gate's buckets live in other slots than
these sets, and a Lua script reads only keys of its own slot: each bucket keeps a copy
(`copy_key`), registered by the gate in COPIES_KEY. Every write here then reaches every copy
after its MULTI, in order by the mirror's version (`copy_apply.lua`, `copy_rebuild.lua`), and
each copy carries its own ready stamp: the dataset of the master holding it. A copy that is
missing or stamped with another dataset makes its bucket refuse to sell, like the mirror's.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from functools import cache
from pathlib import Path

import redis
from django.utils import timezone

from antiscalper import selectors
from core.redis_client import clustered, connection, dataset_at, gate_connection
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
COPIES_KEY = "bl:copies"  # on a cluster: the key prefixes of the buckets' copies
LUA_DIR = Path(__file__).with_name("lua")


def copy_key(prefix: str, kind: str) -> str:
    """A bucket's copy of one set, under the bucket's own key prefix (its hash tag)."""
    return f"{prefix}bl:{kind}"


def copy_ready_key(prefix: str) -> str:
    return f"{prefix}bl:ready"


def _copy_versions_key(prefix: str) -> str:
    return f"{prefix}bl:versions"


@cache
def _script(name: str):
    return gate_connection().register_script((LUA_DIR / f"{name}.lua").read_text())


class MirrorBusy(RuntimeError):
    """The mirror kept changing under a writer for ATTEMPTS tries in a row."""


def mirror_ready() -> bool:
    """Whether the mirror was rebuilt on the dataset Redis holds now (and, on a cluster,
    every bucket's copy on the dataset of the master holding it)."""
    if connection().get(READY_KEY) != dataset_of(connection()):
        return False
    return all(_copy_ready(prefix) for prefix in _copies())


def _copies() -> list[str]:
    return sorted(gate_connection().smembers(COPIES_KEY)) if clustered() else []


def _copy_ready(prefix: str) -> bool:
    ready = copy_ready_key(prefix)
    return gate_connection().get(ready) == dataset_at(ready)


def copy_register(*, prefix: str) -> None:
    """A bucket of the gate on a cluster keeps a copy under `prefix`: written now and by every
    later write (the gate loads a bucket only after this)."""
    gate_connection().sadd(COPIES_KEY, prefix)
    version, blocked = _snapshot()
    _copy_rebuild(prefix, version, blocked)


def _snapshot() -> tuple[int, dict[str, set[str]]]:
    """The mirror's sets and their version, read in one MULTI."""
    pipe = connection().pipeline(transaction=True)
    pipe.get(VERSION_KEY)
    for key in BLACKLIST_KEYS.values():
        pipe.smembers(key)
    version, *sets = pipe.execute()
    return int(version or 0), dict(zip(BLACKLIST_KEYS, sets, strict=True))


def _copy_rebuild(prefix: str, version: int, blocked: dict) -> None:
    ready = copy_ready_key(prefix)
    args: list = [dataset_at(ready), version]
    for kind in BLACKLIST_KEYS:
        values = sorted(blocked.get(kind, ()))
        args += [kind, len(values), *values]
    _script("copy_rebuild")(
        keys=[ready, _copy_versions_key(prefix),
              *(copy_key(prefix, kind) for kind in BLACKLIST_KEYS)], args=args)


def _copies_apply(kind: str, value: str, blocked: bool, version: int) -> None:
    for prefix in _copies():
        _script("copy_apply")(keys=[copy_key(prefix, kind), _copy_versions_key(prefix)],
                              args=[f"{kind}|{value}", value, int(blocked), version])


def members(*, kind: str) -> set[str]:
    return connection().smembers(BLACKLIST_KEYS[kind])


def _watched(write) -> tuple:
    """Run `write(pipe)` (reads, then pipe.multi(), then writes) until no other writer raced;
    returns its answer and the mirror's version its MULTI made."""
    for _ in range(ATTEMPTS):
        with connection().pipeline() as pipe:
            try:
                pipe.watch(VERSION_KEY)
                answer = write(pipe)
                pipe.incr(VERSION_KEY)
                return answer, pipe.execute()[-1]
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

    blocked, version = _watched(write)
    _copies_apply(kind, value, blocked, version)
    return blocked


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
        return blocked

    blocked, version = _watched(write)
    for prefix in _copies():
        _copy_rebuild(prefix, version, blocked)
    return {kind: len(blocked.get(kind, ())) for kind in BLACKLIST_KEYS}
