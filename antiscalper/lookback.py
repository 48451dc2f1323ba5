"""Realtime features that look past this sale: the account's own past, the devices' and IPs'
past across earlier sales, and when the sale's accounts were registered.

- `dormant_account`: an old account with no history before this sale (no order, no attempt
  in another sale) is what a ring keeps in stock: aged so that `new_account` does not fire,
  idle until a hot sale. Many genuine fans look alike (they come back for the phone they
  waited for), so it is a ring feature: it adds to other evidence, never blocks.
- `registration_burst`: the sale's admitted accounts registered within `BURST_WINDOW_MS` of
  this one (a Redis sorted set per sale, by registration time; the accounts scored so far,
  this batch's included): a ring registers its accounts in a batch, a launch brings genuine
  sign-ups in waves too; a ring feature as well.
- `device_history`, `ip_history`: accounts seen on the attempt's device or IP in other sales
  within `HISTORY_DAYS` (AttemptSignal), where the sale's own Redis counters see this sale
  only. The device is claimed (a header), the IP is a campus NAT as often as a farm: their
  families (rules.CLAIMED, rules.IP) keep them from blocking alone. As `device_accounts`
  does within the sale, they count every account seen, the first one on the device too
  (telling a device's first holder from later ones would cost a query per batch more).

A rule switched off costs nothing: its queries and its Redis writes are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, F, Min, Q, Value

from antiscalper.attempts import TTL_SECONDS, Attempt, Keys, ms_to_datetime
from antiscalper.bulk import Within
from antiscalper.models import AttemptSignal
from antiscalper.rules import Setting
from core.redis_client import connection
from shop.models import Order

HISTORY_DAYS = 180
BURST_WINDOW_MS = 120_000  # "registered within 2 minutes of this account", either side
CODES = ("registration_burst", "dormant_account", "device_history", "ip_history")
REUSE = (("device_history", "device"), ("ip_history", "ip"))


def registered_key(sale_id: int) -> str:
    """rs:{s}:jr  zset  the sale's admitted accounts by registration time (ms)."""
    return f"{Keys(sale_id).prefix}:jr"


class Lookback:
    """The four features for one batch of attempts: one query for the accounts' past, one
    per sale of the batch for the devices' and IPs' (a batch is one sale's), one Redis round
    trip for the registrations."""

    def __init__(self, batch: list[Attempt], joined: dict[int, datetime],
                 settings: dict[str, Setting], now: datetime) -> None:
        on = {code for code in CODES if settings[code].enabled}
        users = sorted({a.user_id for a in batch})
        self.values: dict[str, dict[int, float | None]] = {code: {} for code in CODES}
        if "dormant_account" in on:
            self._dormant(batch, users, joined)
        if "registration_burst" in on:
            self._bursts(batch, joined)
        if on & {code for code, _ in REUSE}:
            self._reuse(batch, on, now - timedelta(days=HISTORY_DAYS))

    def of(self, index: int) -> dict[str, float | None]:
        """The features of the batch's `index`th attempt (None: not measured)."""
        return {code: self.values[code].get(index) for code in CODES}

    def _dormant(self, batch: list[Attempt], users: list[int],
                 joined: dict[int, datetime]) -> None:
        """Each account's first order (sale -1) and first attempt per sale, before the last
        opening of the batch, in one query."""
        latest = ms_to_datetime(max(a.opens_ms for a in batch))
        orders = Order.objects.filter(Within(F("user_id"), users), created_at__lt=latest) \
            .values("user_id").annotate(sale=Value(-1), first=Min("created_at")) \
            .values_list("user_id", "sale", "first").order_by()
        attempts = AttemptSignal.objects.filter(Within(F("user_id"), users), at__lt=latest) \
            .values("user_id", "sale_id").annotate(first=Min("at")) \
            .values_list("user_id", "sale_id", "first").order_by()
        before: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
        for user_id, sale_id, first in orders.union(attempts, all=True):
            before[user_id].append((sale_id, first))
        for i, a in enumerate(batch):
            registered, opened = joined.get(a.user_id), ms_to_datetime(a.opens_ms)
            if registered is None:
                continue
            active = any(sale != a.sale_id and first < opened
                         for sale, first in before[a.user_id])
            self.values["dormant_account"][i] = None if active else max(
                0.0, (opened - registered).total_seconds() / 86400)

    def _bursts(self, batch: list[Attempt], joined: dict[int, datetime]) -> None:
        """The batch's accounts join their sale's set first, so each counts the whole burst
        known so far (those of earlier batches, and of this one); one count per account."""
        added: dict[int, dict[str, int]] = defaultdict(dict)
        for a in batch:
            if (registered := joined.get(a.user_id)) is not None:
                added[a.sale_id][str(a.user_id)] = int(registered.timestamp() * 1000)
        if not added:
            return
        asked = [(sale_id, user) for sale_id, users in added.items() for user in users]
        with connection().pipeline(transaction=False) as pipe:
            for sale_id, users in added.items():
                pipe.zadd(registered_key(sale_id), users)
                pipe.expire(registered_key(sale_id), TTL_SECONDS)
            for sale_id, user in asked:
                ms = added[sale_id][user]
                pipe.zcount(registered_key(sale_id), ms - BURST_WINDOW_MS, ms + BURST_WINDOW_MS)
            counts = pipe.execute()[2 * len(added):]
        found = {key: float(n) for key, n in zip(asked, counts, strict=True)}
        for i, a in enumerate(batch):
            self.values["registration_burst"][i] = found.get((a.sale_id, str(a.user_id)))

    def _reuse(self, batch: list[Attempt], on: set[str], since: datetime) -> None:
        """Accounts per device and per IP in other sales since `since`: one query per sale
        of the batch (a batch is one sale's, as the pipeline drains them)."""
        wanted = [(code, [_cut(column, getattr(a, column)) for a in batch])
                  for code, column in REUSE if code in on]
        by_sale: dict[int, list[int]] = defaultdict(list)
        for i, a in enumerate(batch):
            by_sale[a.sale_id].append(i)
        for sale_id, positions in by_sale.items():
            asked = []
            for code, values in wanted:
                column = dict(REUSE)[code]
                seen = sorted({values[i] for i in positions} - {""})
                if seen:
                    asked.append(AttemptSignal.objects.filter(
                        Within(F(column), seen), ~Q(sale_id=sale_id), at__gte=since)
                        .values(column).annotate(n=Count("user_id", distinct=True),
                                                 code=Value(code))
                        .values_list("code", column, "n").order_by())
            if not asked:
                continue
            counts = {(code, value): n for code, value, n in
                      (asked[0].union(*asked[1:], all=True) if len(asked) > 1 else asked[0])}
            for code, values in wanted:
                found = self.values[code]
                for i in positions:
                    if values[i]:
                        found[i] = float(counts.get((code, values[i]), 0))


def _cut(column: str, value: str) -> str:
    """The value as AttemptSignal stores it (the device's first 64 characters, the IP's 45)."""
    return (value or "")[:64 if column == "device" else 45]
