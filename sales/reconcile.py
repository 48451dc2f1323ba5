"""Reconciliation: compare each gate with the database's record and report the drift.

Expected units left = stock - units held by orders - units of tickets still queued under the
gate's epoch. A gate whose keys vanished (Redis restarted or flushed) answers `unavailable`
to every buyer until it is rebuilt from the database, by ops or by the periodic task.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from sales import gate, gate_keys
from sales.gate_keys import SaleKeys
from sales.models import FlashSale
from sales.services import blacklist_mirror_ensure, gate_rebuild, units_held

logger = logging.getLogger("flashsale.reconcile")


@dataclass
class Drift:
    sale_id: int
    loaded: bool
    gate_stock_left: int | None
    expected_stock_left: int
    held_in_database: int
    queued: int
    users_differing: dict[int, dict[str, int]] = field(default_factory=dict)
    gate_fcode_stock_left: int | None = None
    expected_fcode_stock_left: int = 0

    @property
    def stock_drift(self) -> int | None:
        if self.gate_stock_left is None:
            return None
        return self.gate_stock_left - self.expected_stock_left

    @property
    def fcode_stock_drift(self) -> int | None:
        if self.gate_fcode_stock_left is None:
            return None
        return self.gate_fcode_stock_left - self.expected_fcode_stock_left

    @property
    def clean(self) -> bool:
        return (self.loaded and self.stock_drift == 0 and self.fcode_stock_drift == 0
                and not self.users_differing)

    def as_dict(self) -> dict:
        return {**asdict(self), "stock_drift": self.stock_drift,
                "fcode_stock_drift": self.fcode_stock_drift, "clean": self.clean}


def _queued(sale_id: int, epoch: int | None) -> tuple[int, int, dict[int, int]]:
    """Units queued under the epoch: (open rush, F-codes and rights, by user)."""
    total, fcoded, by_user = 0, 0, {}
    for _, fields in gate_keys.connection().xrange(SaleKeys(sale_id).queue):
        if epoch is not None and int(fields["epoch"]) == epoch:
            units, user = int(fields["qty"]), int(fields["user"])
            if fields.get("fcode"):
                fcoded += units
            else:
                total += units
            by_user[user] = by_user.get(user, 0) + units
    return total, fcoded, by_user


def sale_reconcile(*, sale_id: int) -> Drift:
    """Compare one sale's gate with the database (read-only)."""
    sale = FlashSale.objects.get(pk=sale_id)
    state = gate.state(sale_id=sale_id)
    held = units_held(sale_id=sale_id)
    queued, fqueued, queued_by = _queued(sale_id, state.epoch)
    expected = max(sale.open_stock - held.open - queued, 0)
    fexpected = max(sale.fcode_quota - held.through_fcodes - fqueued, 0)
    users: dict[int, dict[str, int]] = {}
    if state.loaded:
        for user in set(held.by_user) | set(queued_by) | set(state.bought):
            want = held.by_user.get(user, 0) + queued_by.get(user, 0)
            have = state.bought.get(user, 0)
            if want != have:
                users[user] = {"gate": have, "database": want}
    return Drift(sale_id=sale_id, loaded=state.loaded, gate_stock_left=state.stock_left,
                 expected_stock_left=expected, held_in_database=held.total,
                 queued=queued + fqueued, users_differing=users,
                 gate_fcode_stock_left=state.fcode_stock_left,
                 expected_fcode_stock_left=fexpected)


def gates_reconcile() -> list[Drift]:
    """Check every loaded, not long-ended sale; rebuild lost gates if GATE_AUTO_REBUILD."""
    recent = timezone.now() - timedelta(hours=1)
    blacklist_mirror_ensure()
    drifts = []
    for sale_id in FlashSale.objects.filter(gate_loaded_at__isnull=False, ends_at__gt=recent) \
            .values_list("pk", flat=True):
        drift = sale_reconcile(sale_id=sale_id)
        if not drift.loaded:
            logger.error("gate of sale %s is gone: failing closed", sale_id)
            if settings.GATE_AUTO_REBUILD:
                gate_rebuild(sale_id=sale_id)
        elif not drift.clean:
            logger.warning("gate of sale %s drifts: %s", sale_id, drift.as_dict())
        drifts.append(drift)
    return drifts
