"""Which Redis dataset a client is talking to: the server's run id and replication id.

Redis can come back holding less than it acknowledged: restarted from an older snapshot,
a replica promoted while behind, a backup restored. Its keys then look valid and are stale.
Every restart gives the server a new `run_id`, and a promotion gives it a new
`master_replid`, so the pair names the dataset. The gate and the blacklist mirror record the
pair they were built on; a client that finds another pair knows the data may be older than
what was sold, and fails closed until it is rebuilt from the database.
"""

from __future__ import annotations

import redis


def dataset_of_info(server: dict, replication: dict) -> str:
    """The dataset's name from INFO's `server` and `replication` sections."""
    return f"{server['run_id']}:{replication.get('master_replid', '')}"


def dataset_of(client: redis.Redis) -> str:
    """The dataset `client` reaches now (two INFO sections in one round trip)."""
    pipe = client.pipeline(transaction=False)
    pipe.info("server").info("replication")
    server, replication = pipe.execute()
    return dataset_of_info(server, replication)


def parse_info(text: str) -> dict[str, str]:
    """INFO's `key:value` lines as a dict (for lines that read the raw reply)."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and not key.startswith("#"):
            fields[key] = value.strip()
    return fields
