"""Realtime risk: score each admitted ticket with the rules and store the explained decision.

`risk_evaluate` works on a batch (the pipeline's batch of tickets): a constant number of
queries whatever the batch size (rule settings, policy, existing decisions, customers,
addresses, phones, payments, orders, allowlist, antiscalper.lookback's past of the accounts,
devices and IPs; then one bulk insert), each with its list of thousands of values as one
parameter (antiscalper.bulk.Within), one Lua call per 50 attempts for every Redis value the
rules read (read.lua: counters, timeline, cluster size, reservation bursts, blacklist
mirror) and one pipeline for the registration bursts. During a rush it runs on every
admitted attempt, so the per-attempt work is plain Python over tuples: no model instance per
attempt (decisions are Decided records), rules compiled once per batch (rules.Scorer).
"""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from django.db.models import Count, F, Min, Q, Value
from django.utils import timezone

from antiscalper import established, rules
from antiscalper.attempts import (
    BUCKET_MS,
    RESERVATION,
    SCRIPT_CHUNK,
    Attempt,
    Keys,
    ms_to_datetime,
    script,
    subnet_of,
)
from antiscalper.bulk import Within, rows_insert
from antiscalper.lookback import Lookback
from antiscalper.mirror import BLACKLIST_KEYS
from antiscalper.models import AllowlistEntry, Kind, RiskDecision, live_q
from core.redis_client import connection
from shop.models import Address, Customer, Order, OrderStatus, Payment

HISTORY_DAYS = 180
ROBOTIC_MIN_GAPS = 4
VELOCITY_MS = 10_000
BURST_MS = 60_000
BOUGHT = [OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED]
LAPSED = [OrderStatus.EXPIRED, OrderStatus.FORFEITED]
SETS = list(BLACKLIST_KEYS)  # read.lua numbers the blacklist sets 1.. in this order


@lru_cache(maxsize=65536)
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
        users = sorted(user_ids)
        customers = list(Customer.objects.filter(Within(F("user_id"), users))
                         .values_list("user_id", "joined_at", "phone"))
        self.joined = {user_id: joined for user_id, joined, _ in customers}
        self.addresses: dict[int, list[tuple[int, str]]] = defaultdict(list)  # (id, normal)
        self.phones: dict[int, set[str]] = defaultdict(set)
        for user_id, _, phone in customers:
            self.phones[user_id].add(phone)
        for pk, user_id, norm, phone in Address.objects.filter(
                Within(F("customer__user_id"), users)).values_list(
                "id", "customer__user_id", "normalized", "phone"):
            self.addresses[user_id].append((pk, norm))
            if phone:
                self.phones[user_id].add(phone)
        norms = sorted({norm for rows in self.addresses.values() for _, norm in rows})
        held = list(Address.objects.filter(Within(F("normalized"), norms)).values("normalized")
                    .annotate(n=Count("customer", distinct=True), first=Min("pk"))
                    .values_list("normalized", "n", "first"))
        self.address_accounts = {norm: n for norm, n, _ in held}
        # An address's established holder is the account that wrote it first: accounts
        # copying it later are counted against themselves, never against that holder.
        self.address_owner = dict(Address.objects.filter(
            Within(F("pk"), [first for _, _, first in held])).values_list(
            "normalized", "customer__user_id"))
        phones = sorted({p for values in self.phones.values() for p in values})
        # Who holds each phone: the account registered with it (True), and the accounts
        # with it on an address (False), in one query.
        holders = list(Customer.objects.filter(Within(F("phone"), phones)).order_by()
                       .values_list("phone", "user_id", Value(True)).union(
                           Address.objects.filter(Within(F("phone"), phones)).order_by()
                           .values_list("phone", "customer__user_id", Value(False)),
                           all=True))
        self.phone_accounts = _accounts_per((phone, user) for phone, user, _ in holders)
        self.phone_counts = {phone: len(users) for phone, users in self.phone_accounts.items()}
        # A phone's established holder is its registered account (see address_owner).
        self.phone_owner = {phone: user for phone, user, registered in holders if registered}
        self.instruments: dict[int, set[str]] = defaultdict(set)
        for user_id, instrument in Payment.objects.filter(Within(F("user_id"), users)).exclude(
                instrument="").values_list("user_id", "instrument").order_by().distinct():
            self.instruments[user_id].add(instrument)
        used = sorted({i for values in self.instruments.values() for i in values})
        self.instrument_accounts = dict(
            Payment.objects.filter(Within(F("instrument"), used)).values("instrument")
            .annotate(n=Count("user", distinct=True)).values_list("instrument", "n"))
        self.history = {user_id: (lapsed, bought) for user_id, lapsed, bought in
                        Order.objects.filter(
                            Within(F("user_id"), users),
                            created_at__gte=now - timedelta(days=HISTORY_DAYS),
                        ).values("user_id").annotate(
                            lapsed=Count("id", filter=Q(status__in=LAPSED)),
                            bought=Count("sale_id", filter=Q(status__in=BOUGHT,
                                                             sale_id__isnull=False),
                                         distinct=True)).values_list("user_id", "lapsed",
                                                                     "bought")}
        self.first_bought = established.first_bought(users)
        self.allowlisted = {int(value) for value in AllowlistEntry.objects.filter(
            live_q(now), Within(F("value"), [str(u) for u in users]), kind=Kind.ACCOUNT,
        ).values_list("value", flat=True)}

    def shared_count(self, *, user_id: int, values, counts: dict, owner: dict) -> float | None:
        """How many accounts share the most shared of these values with this account; a
        value this account holds first (its own registered phone, the address it wrote
        first) counts 1: others copying it say nothing about it."""
        found = [1 if owner.get(v) == user_id else counts.get(v, 0) for v in values]
        return float(max(found)) if found else None

    def addresses_of(self, attempt: Attempt) -> list[str]:
        rows = self.addresses.get(attempt.user_id, [])
        chosen = [norm for pk, norm in rows if pk == attempt.address_id]
        return chosen or [norm for _, norm in rows]


class Read(NamedTuple):
    """What read.lua answers for one attempt (None: not applicable, as the rules expect)."""

    times: list
    fcodes_account: str | None
    cluster: str | None
    device_accounts: int | None
    device_opening: int | None
    device_reservers: int | None
    fcodes_device: str | None
    ip_bucket: str | None
    ip_reservers: int | None
    subnet_opening: int | None
    fcodes_own_on_device: str | None
    blacklisted: list[str]


def _identities(a: Attempt, facts: Facts) -> list[tuple[str, str]]:
    """The attempt's identities the blacklist mirror is asked about, in the order the
    decision lists the ones it finds."""
    identities = [(Kind.ACCOUNT, str(a.user_id)), (Kind.DEVICE, a.device), (Kind.IP, a.ip)]
    identities += [(Kind.PHONE, p) for p in facts.phones.get(a.user_id, ())]
    identities += [(Kind.ADDRESS, n) for n in facts.addresses_of(a)]
    identities += [(Kind.PAYMENT, instrument_normalize(p))
                   for p in facts.instruments.get(a.user_id, ())]
    return [(kind, value) for kind, value in identities if value]


def _redis_reads(attempts: list[Attempt], facts: Facts) -> list[Read]:
    """Per attempt, everything the rules read from Redis: one read.lua call per sale and
    SCRIPT_CHUNK attempts."""
    by_sale: dict[int, list[int]] = defaultdict(list)
    for i, a in enumerate(attempts):
        by_sale[a.sale_id].append(i)
    reads: list[Read | None] = [None] * len(attempts)
    read, client = script("read"), connection()
    for sale_id, positions in by_sale.items():
        for start in range(0, len(positions), SCRIPT_CHUNK):
            chunk = positions[start:start + SCRIPT_CHUNK]
            asked, chunk_args = [], []
            for i in chunk:
                a = attempts[i]
                identities = _identities(a, facts)
                asked.append(identities)
                chunk_args.append([str(a.user_id), a.device, a.ip, str(a.at_ms // BUCKET_MS),
                                   subnet_of(a.ip), [[SETS.index(kind) + 1, value]
                                                     for kind, value in identities]])
            args = [Keys(sale_id).prefix, BURST_MS, len(SETS), *BLACKLIST_KEYS.values(),
                    json.dumps(chunk_args)]
            answers = read(args=args, client=client)
            for i, identities, answer in zip(chunk, asked, answers, strict=True):
                *values, found = answer
                reads[i] = Read(*values, [f"{identities[n - 1][0]}:{identities[n - 1][1]}"
                                          for n in found])
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


def measure(a: Attempt, facts: Facts, read: Read) -> tuple[dict, dict]:
    """Every rule's value for one attempt (None: not applicable), plus explanations."""
    cv, recent = _timing(read.times or [], a.at_ms)
    joined = facts.joined.get(a.user_id)
    lapsed, bought = facts.history.get(a.user_id, (0, 0))
    headless, missing = rules.client_markers(user_agent=a.user_agent, headers=a.headers,
                                             device=a.device)
    guessed, from_device = int(read.fcodes_account or 0), int(read.fcodes_device or 0)
    # A device id is copyable: its guesses are the device's (capped), not the account's.
    # The device's count holds the account's own guesses from it too: only the others' are
    # the device's points (an account mistyping on its own phone is counted once), and only
    # its guesses from this device are left out (those from its other devices were never in
    # this device's count).
    own = int(read.fcodes_own_on_device or 0)
    fcodes, device_fcodes = ((guessed, float(max(0, from_device - own)))
                             if rules.COPYABLE_CAPPED else (max(guessed, from_device), None))
    values = {
        "new_account": None if joined is None
        else (ms_to_datetime(a.at_ms) - joined).total_seconds() / 86400,
        "reservation_burst_device": _number(read.device_reservers),
        "reservation_burst_ip": _number(read.ip_reservers),
        "fast_after_open": None if a.kind == RESERVATION else float(max(0, a.at_ms - a.opens_ms)),
        "robotic_timing": cv,
        "account_velocity": recent,
        "ip_velocity": _number(read.ip_bucket),
        "shared_address": facts.shared_count(user_id=a.user_id, values=facts.addresses_of(a),
                                             counts=facts.address_accounts,
                                             owner=facts.address_owner),
        "shared_phone": facts.shared_count(user_id=a.user_id,
                                           values=facts.phones.get(a.user_id, set()),
                                           counts=facts.phone_counts, owner=facts.phone_owner),
        "shared_payment": _shared(facts.instruments.get(a.user_id, ()),
                                  facts.instrument_accounts),
        "device_accounts": _number(read.device_accounts),
        "opening_crowd_device": _number(read.device_opening),
        "opening_crowd_subnet": _number(read.subnet_opening),
        "linked_cluster": _number(read.cluster),
        "headless_agent": float(len(headless)),
        "client_headers": float(len(missing)),
        "resale_history": float(bought),
        "hoarding": float(lapsed),
        "fcode_guessing": float(fcodes),
        "fcode_guessing_device": device_fcodes,
        "blacklisted": float(len(read.blacklisted)),
    }
    details = {"headless_agent": headless, "client_headers": missing,
               "blacklisted": read.blacklisted}
    return values, details


@dataclass(frozen=True, slots=True)
class Decided:
    """A realtime decision as risk_evaluate answers it: the values of its RiskDecision row,
    without building a model instance per ticket."""

    sale_id: int
    user_id: int
    ticket: str
    source: str
    device: str
    ip: str
    score: float
    decision: str
    reason: str
    rules: list
    created_at: datetime


DECIDED_FIELDS = ("sale_id", "user_id", "ticket", "source", "device", "ip", "score",
                  "decision", "reason", "rules", "created_at")
INSERTED_FIELDS = (*DECIDED_FIELDS[:-1], "review_status", "created_at")
REALTIME, OPEN = RiskDecision.Source.REALTIME.value, RiskDecision.Review.OPEN.value


def _decide(batch: list[Attempt], now: datetime) -> list[Decided]:
    """Score a batch of undecided attempts and store their decisions (one insert)."""
    settings = rules.settings_load()
    scorer = rules.Scorer(settings, rules.policy_load())
    facts = Facts({a.user_id for a in batch}, now)
    past = Lookback(batch, facts.joined, settings, now)  # beyond this sale (lookback)
    fresh, rows = [], []
    for n, (attempt, read) in enumerate(zip(batch, _redis_reads(batch, facts), strict=True)):
        values, details = measure(attempt, facts, read)
        values.update(past.of(n))
        verdict = scorer.decide(values, allowlisted=attempt.user_id in facts.allowlisted,
                                details=details, established=established.established_at(
                                    facts.first_bought.get(attempt.user_id),
                                    ms_to_datetime(attempt.opens_ms)))
        decided = Decided(attempt.sale_id, attempt.user_id, attempt.ticket, REALTIME,
                          attempt.device[:64], attempt.ip[:45], round(verdict.score, 3),
                          str(verdict.decision), verdict.reason[:200], verdict.fired, now)
        fresh.append(decided)
        rows.append((decided.sale_id, decided.user_id, decided.ticket, REALTIME,
                     decided.device, decided.ip, decided.score, decided.decision,
                     decided.reason, json.dumps(decided.rules), OPEN, now))
    rows_insert(RiskDecision, INSERTED_FIELDS, rows, ignore_conflicts=True)
    return fresh


def risk_evaluate(*, attempts: list[Attempt], now: datetime | None = None,
                  ) -> dict[str, Decided]:
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
    decided = {row[2]: Decided(*row) for row in RiskDecision.objects.filter(
        Within(F("ticket"), list(todo))).values_list(*DECIDED_FIELDS)}
    batch = [a for ticket, a in todo.items() if ticket not in decided]
    if batch:
        decided.update((d.ticket, d) for d in _decide(batch, now))
    return {ticket: decided[ticket] for ticket in todo}
