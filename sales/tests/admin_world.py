"""Rows for every ops admin list: a sale with its records, an order, a payment, a decision, a
ring case, a blacklist entry and an appeal, all of one shopper (for the admin tests and the
browser tests of the admin)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from antiscalper import appeals
from antiscalper import services as lists
from antiscalper.models import RingCase, RiskDecision
from sales.models import Draw, FCode, FlashSale, RejectedTicket, Reservation, StockReturn
from shop.models import OrderStatus, Payment

_rows = itertools.count(1)

FIRED = [{"code": "headless_agent", "value": 1.0, "threshold": 1, "weight": 45,
          "action": "score"},
         {"code": "device_accounts", "value": 4.0, "threshold": 3, "weight": 35,
          "action": "score"}]


def sale_rows(*, make_customer, make_sale, make_order) -> dict:
    """One sale titled after its row number, and one of everything about one shopper in it."""
    n = next(_rows)
    shopper = make_customer(username=f"fan-{n:03d}")
    user = shopper.user
    sale = make_sale(load=False, stock=10)
    FlashSale.objects.filter(pk=sale.pk).update(title=f"Redmi batch {n:03d}")
    sale.refresh_from_db()
    now = timezone.now()
    Reservation.objects.create(sale=sale, user=user)
    order = make_order(user=user, sale_id=sale.pk, status=OrderStatus.EXPIRED)
    FCode.objects.create(sale=sale, user=user, code_hash=f"hash-{n}", hint=f"{n:04d}",
                         expires_at=now + timedelta(days=1))
    Draw.objects.create(sale=sale, seed=f"seed-{n}", entries=[[n, user.pk, 2]],
                        winners=[user.pk], waitlist=[])
    StockReturn.objects.create(order=order, sale=sale, quantity=1, reason="expired")
    RejectedTicket.objects.create(ticket=f"{sale.pk}-t{n}", sale=sale, user_id=user.pk,
                                  quantity=1, reason="risk_blocked")
    Payment.objects.create(order=order, user=user, idempotency_key=f"key-{n}",
                           purpose=Payment.Purpose.FULL, amount=Decimal("1999.00"))
    decision = RiskDecision.objects.create(
        sale_id=sale.pk, user=user, decision="block", score=80, rules=FIRED,
        reason="score 80 >= block score 70", device=f"dev-{n}", created_at=now)
    case = RingCase.objects.create(sale_id=sale.pk, members=[user.pk], created_at=now,
                                   updated_at=now)
    entry, _ = lists.blacklist_add(kind="account", value=str(user.pk), reason="ring")
    lists.allowlist_add(kind="device", value=f"dev-{n}", reason="a shared family tablet")
    appeal, _ = appeals.appeal_submit(user_id=user.pk, message="I am a real fan, honest.")
    return {"shopper": shopper, "sale": sale, "order": order, "decision": decision,
            "case": case, "entry": entry, "appeal": appeal}
