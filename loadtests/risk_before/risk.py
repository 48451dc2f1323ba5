"""The frozen antiscalper.risk (see loadtests.risk_before): verbatim, do not edit."""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone

from antiscalper.attempts import (
    RESERVATION,
    Attempt,
    Keys,
    ms_to_datetime,
)
from antiscalper.mirror import BLACKLIST_KEYS
from antiscalper.models import (
    AllowlistEntry,
    Kind,
    RiskDecision,
    live_q,
)
from core.redis_client import connection
from shop.models import Address, Customer, Order, OrderStatus, Payment

from .attempts import subnet_of
from .rules import client_markers, decide, policy_load, settings_load

HISTORY_DAYS = 180
ROBOTIC_MIN_GAPS = 4
VELOCITY_MS = 10_000
BURST_MS = 60_000
BOUGHT = [OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED]
LAPSED = [OrderStatus.EXPIRED, OrderStatus.FORFEITED]


def instrument_normalize(value: str) -> str:
    """The blacklist's normal form of a payment instrument (see identities._payment)."""
    return re.sub(r"[\s\-]", "", value or "").lower()[:64]


def _accounts_per(pairs) -> dict[str, set[int]]:
    accounts: dict[str, set[int]] = defaultdict(set)
    for value, user_id in pairs:
        accounts[value].add(user_id)
    return accounts


class Facts:
    """What the database knows about a batch's accounts, read in a fixed number of queries."""

    def __init__(self, user_ids: set[int], now: datetime) -> None:
        customers = list(Customer.objects.filter(user_id__in=user_ids)
                         .values_list("user_id", "joined_at", "phone"))
        self.joined = {user_id: joined for user_id, joined, _ in customers}
        self.addresses: dict[int, list[dict]] = defaultdict(list)
        for row in Address.objects.filter(customer__user_id__in=user_ids).values(
                "id", "customer__user_id", "normalized", "phone"):
            self.addresses[row["customer__user_id"]].append(row)
        self.phones: dict[int, set[str]] = defaultdict(set)
        for user_id, _, phone in customers:
            self.phones[user_id].add(phone)
        for user_id, rows in self.addresses.items():
            self.phones[user_id].update(row["phone"] for row in rows if row["phone"])
        norms = {row["normalized"] for rows in self.addresses.values() for row in rows}
        self.address_accounts = dict(
            Address.objects.filter(normalized__in=norms).values("normalized")
            .annotate(n=Count("customer", distinct=True)).values_list("normalized", "n"))
        # An address's established holder is the account that wrote it first: accounts
        # copying it later are counted against themselves, never against that holder.
        firsts = Address.objects.filter(normalized__in=norms).values("normalized") \
            .annotate(first=Min("pk")).values_list("first", flat=True)
        self.address_owner = dict(Address.objects.filter(pk__in=list(firsts)).values_list(
            "normalized", "customer__user_id"))
        phones = {p for values in self.phones.values() for p in values}
        self.phone_accounts = _accounts_per(
            list(Customer.objects.filter(phone__in=phones).values_list("phone", "user_id"))
            + list(Address.objects.filter(phone__in=phones)
                   .values_list("phone", "customer__user_id")))
        self.phone_counts = {phone: len(users) for phone, users in self.phone_accounts.items()}
        # A phone's established holder is its registered account (see address_owner).
        self.phone_owner = dict(Customer.objects.filter(phone__in=phones)
                                .values_list("phone", "user_id"))
        self.instruments: dict[int, set[str]] = defaultdict(set)
        for user_id, instrument in Payment.objects.filter(user_id__in=user_ids).exclude(
                instrument="").values_list("user_id", "instrument").order_by().distinct():
            self.instruments[user_id].add(instrument)
        used = {i for values in self.instruments.values() for i in values}
        self.instrument_accounts = dict(
            Payment.objects.filter(instrument__in=used).values("instrument")
            .annotate(n=Count("user", distinct=True)).values_list("instrument", "n"))
        self.history = {row["user_id"]: row for row in Order.objects.filter(
            user_id__in=user_ids, created_at__gte=now - timedelta(days=HISTORY_DAYS),
        ).values("user_id").annotate(
            lapsed=Count("id", filter=Q(status__in=LAPSED)),
            bought=Count("sale_id", filter=Q(status__in=BOUGHT, sale_id__isnull=False),
                         distinct=True))}
        self.allowlisted = {int(value) for value in AllowlistEntry.objects.filter(
            live_q(now), kind=Kind.ACCOUNT, value__in=[str(u) for u in user_ids],
        ).values_list("value", flat=True)}

    def shared_count(self, *, user_id: int, values, counts: dict, owner: dict) -> float | None:
        """How many accounts share the most shared of these values with this account; a
        value this account holds first (its own registered phone, the address it wrote
        first) counts 1: others copying it say nothing about it."""
        found = [1 if owner.get(v) == user_id else counts.get(v, 0) for v in values]
        return float(max(found)) if found else None

    def addresses_of(self, attempt: Attempt) -> list[str]:
        rows = self.addresses.get(attempt.user_id, [])
        chosen = [r["normalized"] for r in rows if r["id"] == attempt.address_id]
        return chosen or [r["normalized"] for r in rows]


def _redis_reads(attempts: list[Attempt], facts: Facts) -> list[dict]:
    """Per attempt: counters, timeline, cluster size and blacklist hits (two round trips)."""
    slots: list[tuple[int, str]] = []
    with connection().pipeline(transaction=False) as pipe:
        def ask(i: int, name: str, method: str, *args) -> None:
            getattr(pipe, method)(*args)
            slots.append((i, name))

        for i, a in enumerate(attempts):
            keys = Keys(a.sale_id)
            ask(i, "times", "lrange", keys.times(a.user_id), 0, -1)
            ask(i, "fcodes_account", "get", keys.account_fcodes(a.user_id))
            ask(i, "cluster", "hget", keys.clusters, a.user_id)
            if a.device:
                ask(i, "device_accounts", "scard", keys.device(a.device, "u"))
                ask(i, "device_opening", "scard", keys.device(a.device, "o"))
                ask(i, "device_reservers", "zcard", keys.device(a.device, "r"))
                ask(i, "fcodes_device", "get", keys.device(a.device, "f"))
            if a.ip:
                ask(i, "ip_bucket", "get", keys.ip_bucket(a.ip, a.at_ms))
                ask(i, "reserved_at", "zscore", keys.ip_reservers(a.ip), a.user_id)
            if subnet_of(a.ip):
                ask(i, "subnet_opening", "scard", keys.subnet_opening(subnet_of(a.ip)))
            identities = [(Kind.ACCOUNT, str(a.user_id)), (Kind.DEVICE, a.device),
                          (Kind.IP, a.ip)]
            identities += [(Kind.PHONE, p) for p in facts.phones.get(a.user_id, ())]
            identities += [(Kind.ADDRESS, n) for n in facts.addresses_of(a)]
            identities += [(Kind.PAYMENT, instrument_normalize(p))
                           for p in facts.instruments.get(a.user_id, ())]
            for kind, value in identities:
                if value:
                    ask(i, f"bl:{kind}:{value}", "sismember", BLACKLIST_KEYS[kind], value)
        results = pipe.execute()
    reads: list[dict] = [{"blacklisted": []} for _ in attempts]
    for (i, name), result in zip(slots, results, strict=True):
        if name.startswith("bl:"):
            if result:
                reads[i]["blacklisted"].append(name[3:])
        else:
            reads[i][name] = result
    with connection().pipeline(transaction=False) as pipe:
        asked = [i for i, r in enumerate(reads) if r.get("reserved_at") is not None]
        for i in asked:
            at = float(reads[i]["reserved_at"])
            pipe.zcount(Keys(attempts[i].sale_id).ip_reservers(attempts[i].ip),
                        at - BURST_MS, at + BURST_MS)
        for i, count in zip(asked, pipe.execute() if asked else [], strict=True):
            reads[i]["ip_reservers"] = count
    return reads


def _number(value) -> float | None:
    return None if value is None else float(value)


def _timing(times: list, at_ms: int) -> tuple[float | None, float]:
    """(coefficient of variation of the gaps, attempts in the last 10 s) up to `at_ms`."""
    past = sorted(int(t) for t in times if int(t) <= at_ms)
    recent = sum(1 for t in past if t > at_ms - VELOCITY_MS)
    gaps = [b - a for a, b in zip(past, past[1:], strict=False)]
    if len(gaps) < ROBOTIC_MIN_GAPS:
        return None, float(recent)
    mean = statistics.fmean(gaps)
    return (statistics.pstdev(gaps) / mean if mean else 0.0), float(recent)


def _shared(values, counts: dict) -> float | None:
    found = [counts.get(v, 0) for v in values]
    return float(max(found)) if found else None


def measure(a: Attempt, facts: Facts, read: dict) -> tuple[dict, dict]:
    """Every rule's value for one attempt (None: not applicable), plus explanations."""
    cv, recent = _timing(read.get("times") or [], a.at_ms)
    joined = facts.joined.get(a.user_id)
    history = facts.history.get(a.user_id, {})
    phones = facts.phones.get(a.user_id, set())
    headless, missing = client_markers(user_agent=a.user_agent, headers=a.headers,
                                             device=a.device)
    fcodes = max(int(read.get("fcodes_account") or 0), int(read.get("fcodes_device") or 0))
    values = {
        "new_account": None if joined is None
        else (ms_to_datetime(a.at_ms) - joined).total_seconds() / 86400,
        "reservation_burst_device": _number(read.get("device_reservers")),
        "reservation_burst_ip": _number(read.get("ip_reservers")),
        "fast_after_open": None if a.kind == RESERVATION else float(max(0, a.at_ms - a.opens_ms)),
        "robotic_timing": cv,
        "account_velocity": recent,
        "ip_velocity": _number(read.get("ip_bucket")),
        "shared_address": facts.shared_count(user_id=a.user_id, values=facts.addresses_of(a),
                                             counts=facts.address_accounts,
                                             owner=facts.address_owner),
        "shared_phone": facts.shared_count(user_id=a.user_id, values=phones,
                                           counts=facts.phone_counts, owner=facts.phone_owner),
        "shared_payment": _shared(facts.instruments.get(a.user_id, ()),
                                  facts.instrument_accounts),
        "device_accounts": _number(read.get("device_accounts")),
        "opening_crowd_device": _number(read.get("device_opening")),
        "opening_crowd_subnet": _number(read.get("subnet_opening")),
        "linked_cluster": _number(read.get("cluster")),
        "headless_agent": float(len(headless)),
        "client_headers": float(len(missing)),
        "resale_history": float(history.get("bought", 0)),
        "hoarding": float(history.get("lapsed", 0)),
        "fcode_guessing": float(fcodes),
        "blacklisted": float(len(read["blacklisted"])),
    }
    details = {"headless_agent": headless, "client_headers": missing,
               "blacklisted": read["blacklisted"]}
    return values, details


def risk_evaluate(*, attempts: list[Attempt], now: datetime | None = None,
                  ) -> dict[str, RiskDecision]:
    """Decide every admitted attempt (ticket != ""), once per ticket; keyed by ticket.

    A ticket decided before (a redelivered batch) keeps its stored decision.
    """
    now = now or timezone.now()
    todo: dict[str, Attempt] = {}
    for attempt in attempts:
        if attempt.ticket:
            todo.setdefault(attempt.ticket, attempt)
    if not todo:
        return {}
    decided = {d.ticket: d for d in RiskDecision.objects.filter(ticket__in=list(todo))}
    batch = [a for ticket, a in todo.items() if ticket not in decided]
    if batch:
        settings, policy = settings_load(), policy_load()
        facts = Facts({a.user_id for a in batch}, now)
        fresh = []
        for attempt, read in zip(batch, _redis_reads(batch, facts), strict=True):
            values, details = measure(attempt, facts, read)
            verdict = decide(values=values, settings=settings, policy=policy,
                                   allowlisted=attempt.user_id in facts.allowlisted,
                                   details=details)
            fresh.append(RiskDecision(
                sale_id=attempt.sale_id, user_id=attempt.user_id, ticket=attempt.ticket,
                source=RiskDecision.Source.REALTIME, device=attempt.device[:64],
                ip=attempt.ip[:45], score=round(verdict.score, 3), decision=verdict.decision,
                reason=verdict.reason[:200], rules=verdict.fired, created_at=now))
        RiskDecision.objects.bulk_create(fresh, batch_size=500, ignore_conflicts=True)
        decided.update((d.ticket, d) for d in fresh)
    return {ticket: decided[ticket] for ticket in todo}
