"""The store's Redis, as one client per process.

Every app reaches the same Redis (settings.REDIS_URL): the blacklist mirror, the anti-scalper
counters, the gate's maintenance and the pipeline. The admission hot path keeps its own line
per thread beside it (`sales.gate.hotline`).
"""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings

from core import embedded_redis


@cache
def connection() -> redis.Redis:
    """This process's one client for the store's Redis. redis-py's pool re-creates its
    connections in a forked child; the embedded server starts on the first connection."""
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True,
                                health_check_interval=30,
                                **embedded_redis.pool_options(settings.REDIS_URL))
