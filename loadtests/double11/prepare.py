"""The replay's options and its preparation: fresh shoppers, the sale with its reservations,
F-codes and payment window, the personas' identities, and the plan the Locust processes read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from antiscalper import mirror
from loadtests.double11 import plan as model
from loadtests.double11 import setup
from sales import services
from sales.models import SaleMode
from sales.modes import fcodes
from shop.models import Sku
from shop.seeding import DEMO_PASSWORD, seed_catalog, seed_customers, username_for


@dataclass
class Options:
    scale: float = 0.001
    time_scale: float = 0.05
    min_phase_s: float = 5.0
    seed: int = 0
    port: int = 8000
    web_workers: int = 3
    celery_workers: int = 1
    locust_workers: int = 0
    web: bool = False
    web_port: int = 8089
    keep: bool = False
    lead_s: float = 8.0
    bot_pause_s: float = 0.2
    live_login_share: float = 0.1
    scale_auto: bool = False            # measure the stack first, then pick the scale
    probe_s: float = 8.0
    out_dir: Path = field(default_factory=lambda: Path(settings.VAR_DIR) / "double11")
    ops_desk: bool = True               # a person on duty answers ring cases (ops_desk.py)
    chaos: bool = False                 # inject the faults of `chaos.py` on a seeded schedule
    faults: tuple[str, ...] = ()        # which (empty: all that this database allows)


def _fresh_accounts(count: int) -> list[str]:
    """`count` new seeded shoppers (after every existing fanNNNNNN), so no account carries
    history (reservations, flags, blacklist entries) from an earlier run into this one."""
    names = get_user_model().objects.filter(username__regex=r"^fan[0-9]+$") \
        .values_list("username", flat=True)
    start = max((int(name[3:]) for name in names), default=0) + 1
    seed_customers(count=count, start=start)
    return [username_for(i) for i in range(start, start + count)]


def prepare(options: Options, out_dir: Path) -> model.Plan:
    """Seed the shoppers, schedule the sale (reservations, F-code quota, a short payment
    window), issue the F-codes and write the plan the Locust processes read."""
    seed_catalog()
    shoppers, stock, quota = model.sizes(scale=options.scale)
    usernames = _fresh_accounts(shoppers)
    phases = model.timeline(time_scale=options.time_scale, min_phase_s=options.min_phase_s)
    window = model.payment_window_s(time_scale=options.time_scale,
                                    min_phase_s=options.min_phase_s)
    now = timezone.now()
    t0 = now + timedelta(seconds=options.lead_s - phases[0].starts_s)
    payment_end = next(p.ends_s for p in phases if p.name == "payment")
    # (A fresh per-run database reuses sale id 1: sale_create wipes what Redis kept for it.)
    sale = services.sale_create(
        sku=Sku.objects.get(code="MI6-64-BLK"),
        title=f"Double-11 replay x{options.scale:g}",
        price=Decimal("1999.00"), stock=stock, fcode_quota=quota,
        per_user_limit=model.PER_USER_LIMIT, mode=SaleMode.RESERVATION,
        reservation_opens_at=now, reservation_closes_at=t0, starts_at=t0,
        ends_at=t0 + timedelta(seconds=payment_end), payment_window=timedelta(seconds=window),
    )
    holders = model.fcode_holders_for(shoppers=shoppers, quota=quota)
    issued = fcodes.fcodes_issue(sale_id=sale.pk, count=holders, fan_level_min=2) if holders else []
    codes = {code.username: code.code for code in issued}
    mirror.mirror_rebuild()     # the blacklist mirror of *this* database (see fresh_sqlite)
    services.gate_load(sale_id=sale.pk)
    cast = model.cast(usernames=[u for u in usernames if u not in codes], fcodes=codes,
                      shoppers=shoppers, stock=stock, fcode_quota=quota, seed=options.seed)
    # Ages, phones, addresses and histories of the ring, reseller and trap personas; the
    # deposit pre-sale opens with the rush when anyone is cast to buy in it.
    setup.identities_apply(cast.accounts, now=t0)
    deposit = None
    if any(a.sale == "deposit" for a in cast.accounts):
        deposit = setup.deposit_sale_create(
            main=sale, title=f"Double-11 deposit pre-sale x{options.scale:g}")
    users = get_user_model().objects.in_bulk([a.username for a in cast.accounts],
                                             field_name="username")
    for account in cast.accounts:
        account.token = str(AccessToken.for_user(users[account.username]))
    plan = model.Plan(sale_id=sale.pk, t0=t0.timestamp(), ends_at=sale.ends_at.timestamp(),
                      time_scale=options.time_scale, min_phase_s=options.min_phase_s,
                      payment_window_s=window, per_user_limit=sale.per_user_limit,
                      password=DEMO_PASSWORD, phases=phases, accounts=cast.accounts,
                      out_dir=str(out_dir), seed=options.seed, bot_pause_s=options.bot_pause_s,
                      live_login_share=options.live_login_share, scale=options.scale,
                      baseline_rps=model.baseline_rps(cast.counts),
                      deposit_sale_id=deposit.pk if deposit else 0)
    plan.save(out_dir / "plan.json")
    return plan
