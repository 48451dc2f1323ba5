"""Builders for risk-engine tests: attempts as the gate would hand them over, and history."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from antiscalper.attempts import Attempt, attempts_record
from antiscalper.risk import risk_evaluate
from shop.models import Customer, Order, Payment
from shop.payments import instrument_fingerprint
from shop.services import address_create, order_create

_tickets = itertools.count(1)
T0 = (int(time.time()) // 10 - 6) * 10_000  # about a minute ago, on a 10-second bucket edge
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
HEADLESS = CHROME.replace("Chrome/", "HeadlessChrome/")
HUMAN_HEADERS = {"accept": "application/json", "accept-language": "zh-CN,zh;q=0.9",
                 "sec-ch-ua": '"Chromium";v="120", "Google Chrome";v="120"',
                 "sec-fetch-site": "same-origin"}


def attempt(user_id: int, *, sale_id: int = 1, kind: str = "purchase", after_ms: int = 2500,
            device: str | None = None, ip: str = "10.9.0.1", user_agent: str = CHROME,
            headers: dict | None = None, reserved: bool = True, verdict: str = "admitted",
            ticket: str | None = None, address_id: int | None = None) -> Attempt:
    """An attempt `after_ms` after the opening; admitted ones get a fresh ticket."""
    if ticket is None:
        ticket = f"t{next(_tickets)}" if verdict == "admitted" and kind != "reservation" else ""
    return Attempt(sale_id=sale_id, user_id=user_id, kind=kind, at_ms=T0 + after_ms,
                   opens_ms=T0, device=f"dev-{user_id}" if device is None else device, ip=ip,
                   user_agent=user_agent,
                   headers=dict(HUMAN_HEADERS if headers is None else headers),
                   reserved=reserved, verdict=verdict, ticket=ticket, address_id=address_id)


def judge(*attempts: Attempt) -> dict:
    """Record the attempts, evaluate them; the decisions keyed by ticket."""
    attempts_record(attempts=list(attempts))
    return risk_evaluate(attempts=list(attempts))


def fired(decision) -> dict[str, float]:
    return {rule["code"]: rule["value"] for rule in decision.rules}


def age(customer, days: int = 400) -> None:
    """Make an account old (fixtures register customers now)."""
    Customer.objects.filter(pk=customer.pk).update(
        joined_at=timezone.now() - timedelta(days=days))


def share_address(customer, line1: str = "88 Scalper Lane"):
    return address_create(customer=customer, recipient="R", phone=customer.phone, line1=line1,
                          city="Shenzhen", postcode="518000")


def pay_with(customer, sku, instrument: str, *, days_ago: float = 1) -> Payment:
    """A succeeded charge on `instrument` for an ordinary order, `days_ago` before now (by
    default before the sale the test replays opened: the account held the card already)."""
    order = order_create(user_id=customer.user_id, lines=[(sku.pk, 1)])
    payment = Payment.objects.create(order=order, user_id=customer.user_id,
                                     idempotency_key=f"k{next(_tickets)}", purpose="full",
                                     amount=Decimal("1.00"), instrument=instrument,
                                     fingerprint=instrument_fingerprint(instrument),
                                     status=Payment.Status.SUCCEEDED)
    Payment.objects.filter(pk=payment.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago))
    return payment


def past_orders(customer, sku, *, status: str, count: int) -> None:
    for n in range(count):
        order = order_create(user_id=customer.user_id, lines=[(sku.pk, 1)])
        Order.objects.filter(pk=order.pk).update(status=status, sale_id=1000 + n)


def building_ring(make_customer, *, count: int = 5, street: str = "9 Drop Street") -> list:
    """`count` old accounts delivering to one building, each to its own flat (a claimed tie:
    linking flags them for review), and each admitted in sale 1."""
    accounts = [make_customer(with_address=False) for _ in range(count)]
    for n, account in enumerate(accounts):
        age(account, days=300 + n)
        share_address(account, line1=f"Flat {n + 1}, {street}")
    judge(*[attempt(a.user_id, ip=f"36.{n}.1.1", after_ms=3000 + 900 * n)
            for n, a in enumerate(accounts)])
    return accounts


def registered(customer, at) -> None:
    """Registered at `at` (fixtures register customers now)."""
    Customer.objects.filter(pk=customer.pk).update(joined_at=at)


def earlier_sale(*customers, sale_id: int = 7, device: str | None = None,
                 ip: str = "10.9.0.1") -> None:
    """The accounts tried an earlier sale an hour before this one opened (and lost)."""
    attempts_record(attempts=[attempt(c.user_id, sale_id=sale_id, after_ms=-3_600_000,
                                      verdict="sold_out", device=device, ip=ip)
                              for c in customers])


def bought_before(customer, sku, *, days: int = 60) -> None:
    """A paid order `days` before now: an established customer (antiscalper.established)
    when `days` is 30 or more."""
    order = order_create(user_id=customer.user_id, lines=[(sku.pk, 1)])
    Order.objects.filter(pk=order.pk).update(status="paid",
                                             created_at=timezone.now() - timedelta(days=days))


# Rights on ring cases (antiscalper.api): to read, to answer, and to blacklist (confirming).
CASES_VIEW, CASES_ACT, BLACKLIST_ADD = "view_ringcase", "act_on_case", "add_blacklistentry"


def staff_client(*codenames: str):
    """An API client for a staff user holding exactly these anti-scalper rights."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from shop.tests.fixtures import client_for

    user = get_user_model().objects.create_user(
        f"ops-{'-'.join(codenames) or 'none'}", password="ops-Long-password-1", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="antiscalper",
                                                         codename__in=codenames))
    return client_for(user)


def case_path(case) -> str:
    """The ops API's address of a ring case."""
    return f"/api/v1/ops/sales/{case.sale_id}/cases/{case.pk}"
