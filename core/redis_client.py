"""The store's Redis, as one client per process, and the gate's (which may be a cluster).

Every app reaches the same Redis (settings.REDIS_URL): the blacklist mirror, the anti-scalper
counters and, by default, the gate and the pipeline. The admission hot path keeps its own line
per thread beside it (`sales.gate.hotline`).

With settings.REDIS_CLUSTER_URL the gate's keys (a sale's buckets, its queues, its tickets and
the blacklist mirror's copies the admission script reads) live on a Redis Cluster instead,
reached through redis-py's `RedisCluster` (`gate_connection`); everything else stays on
REDIS_URL. Unset, the gate's client is `connection()` itself.
"""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit, urlunsplit

import redis
from django.conf import settings
from redis.cluster import RedisCluster

from core import embedded_redis
from core.redis_dataset import dataset_of
from core.snapshot import from_settings


@cache
def connection() -> redis.Redis:
    """This process's one client for the store's Redis. redis-py's pool re-creates its
    connections in a forked child; the embedded server starts on the first connection."""
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True,
                                health_check_interval=30,
                                **embedded_redis.pool_options(settings.REDIS_URL))


@from_settings
def clustered() -> bool:
    """Whether the gate lives on a Redis Cluster (settings.REDIS_CLUSTER_URL is set); read
    once per settings, as the hot path asks on every purchase."""
    return bool(settings.REDIS_CLUSTER_URL)


@cache
def _cluster() -> RedisCluster:
    return RedisCluster.from_url(settings.REDIS_CLUSTER_URL, decode_responses=True)


def gate_connection() -> redis.Redis | RedisCluster:
    """The gate's client: the cluster's when there is one, else the store's Redis."""
    return _cluster() if clustered() else connection()


def gate_forget() -> None:
    """Drop the cached cluster client (a test that starts another cluster, a fork)."""
    if _cluster.cache_info().currsize:
        _cluster().close()
    _cluster.cache_clear()


def node_url(key: str) -> str:
    """The URL of the cluster master that holds `key` now (from the client's slot table, no
    round trip): the cluster URL with that master's host and port."""
    node = _cluster().get_node_from_key(key)
    parts = urlsplit(settings.REDIS_CLUSTER_URL)
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@{node.host}:{node.port}" if auth else f"{node.host}:{node.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def topology_refresh() -> None:
    """Ask the cluster again which master holds which slots (after MOVED or a lost master)."""
    if clustered():
        try:
            _cluster().nodes_manager.initialize()
        except redis.RedisError:
            pass  # no master answers now: the next call asks again


def dataset_at(key: str) -> str:
    """The Redis dataset that holds `key`: its cluster master's, or the one Redis's."""
    if not clustered():
        return dataset_of(connection())
    return dataset_of(_cluster().get_redis_connection(_cluster().get_node_from_key(key)))
