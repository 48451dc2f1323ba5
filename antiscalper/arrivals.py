"""Who arrived in a sale since the incremental linking pass last ran (its dirty set), and the
Redis key names of that pass (`antiscalper.incremental`, which documents them).

Kept apart from the pass itself so that recording an attempt (`attempts.attempts_record`)
and writing an order (the sales pipeline) can mark an arrival without importing linking.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.redis_client import connection

TTL_SECONDS = 2 * 24 * 3600  # as the attempt counters: the sale and its aftermath


class LinkKeys:
    """Redis key names of one sale's incremental linking."""

    def __init__(self, sale_id: int) -> None:
        self.prefix = f"lk:{sale_id}"
        self.dirty = f"{self.prefix}:dirty"  # admitted, holding an order: taken first
        self.rest = f"{self.prefix}:rest"  # the others (lost the race, reserved)
        self.work = f"{self.prefix}:work"

    def account(self, user_id: int) -> str:
        return f"{self.prefix}:a:{user_id}"

    def identifier(self, encoded: str) -> str:
        return f"{self.prefix}:i:{encoded}"


def participants_mark(*, sale_id: int, user_ids: Iterable[int], bought: bool = True) -> None:
    """These accounts arrived in the sale (an attempt, a reservation, an order): the next
    incremental step links them, those that `bought` (admitted, or holding an order) before
    the others, so a rush's losers never delay a decision that must come before a payment.
    One round trip; marking twice is marking once."""
    users = sorted(set(user_ids))
    if not users:
        return
    keys = LinkKeys(sale_id)
    into = keys.dirty if bought else keys.rest
    with connection().pipeline(transaction=False) as pipe:
        pipe.sadd(into, *users)
        pipe.expire(into, TTL_SECONDS)
        pipe.execute()
