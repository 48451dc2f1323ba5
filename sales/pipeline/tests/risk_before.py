"""The risk path as it was before issue 15 (commit 4939842), frozen: a reference to compare with.

`test_risk_parity` runs the same attempts through this and through the current code and wants
the same decisions, explanations, counters and rows; `manage.py bench --risk-only` times both
side by side. The functions are the old ones verbatim (only module prefixes dropped, and
`Attempt.subnet` and `Rule.fires` inlined so that later changes to them cannot leak in); do
not edit them, or the comparison means nothing.
"""

from __future__ import annotations

import ipaddress
import re
import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, Q
from django.utils import timezone

from antiscalper.attempts import (
    FCODE_INVALID,
    MAX_AGENT,
    MAX_HEADER,
    RESERVATION,
    TIMELINE,
    TTL_SECONDS,
    Attempt,
    Keys,
    ms_to_datetime,
)
from antiscalper.mirror import BLACKLIST_KEYS, connection
from antiscalper.models import (
    Action,
    AllowlistEntry,
    AttemptSignal,
    Decision,
    Kind,
    RiskDecision,
    RiskPolicy,
    RuleSetting,
    live_q,
)
from antiscalper.rules import CLAIMED, HEADLESS_MARKERS, IP, RULES, Policy, Setting, Verdict
from core.http import client_parse
from sales.gate import keys as gate_keys
from sales.models import FlashSale, Reservation
from shop.models import Address, Customer, Order, OrderStatus, Payment

# --- sales.pipeline.risk_feed ---------------------------------------------------------------


def attempt_of(sale: FlashSale, fields: dict[str, str], reserved: set[int]) -> Attempt:
    """An attempt as the anti-scalper module describes it, from a stream entry's fields."""
    user_agent, headers = client_parse(fields.get("client", ""))
    user_id = int(fields["user"])
    return Attempt(
        sale_id=sale.pk, user_id=user_id, kind="fcode" if fields.get("fcode") else "purchase",
        at_ms=int(fields["at"]), opens_ms=gate_keys.epoch_ms(sale.starts_at),
        device=fields.get("device", ""), ip=fields.get("ip", ""), user_agent=user_agent,
        headers=headers, reserved=user_id in reserved,
        verdict=fields.get("verdict", "admitted"), ticket=fields.get("ticket", ""),
        address_id=int(fields["address"]) if fields.get("address") else None,
    )


def _reserved(sale: FlashSale, users: set[int]) -> set[int]:
    return set(Reservation.objects.filter(sale=sale, user_id__in=users)
               .values_list("user_id", flat=True))


def attempts_of(sale: FlashSale, entries: list[tuple[str, dict[str, str]]]) -> list[Attempt]:
    reserved = _reserved(sale, {int(fields["user"]) for _, fields in entries})
    return [attempt_of(sale, fields, reserved) for _, fields in entries]


# --- antiscalper.attempts -------------------------------------------------------------------


def subnet_of(ip: str) -> str:
    """The /24 of an IPv4 address or the /64 of an IPv6 one; "" for anything else."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _record(pipe, attempt: Attempt) -> None:
    keys, user = Keys(attempt.sale_id), attempt.user_id
    touched = []
    if attempt.kind == RESERVATION:
        if attempt.device:
            touched.append(keys.device(attempt.device, "r"))
            pipe.zadd(touched[-1], {user: attempt.at_ms}, nx=True)
        if attempt.ip:
            touched.append(keys.ip_reservers(attempt.ip))
            pipe.zadd(touched[-1], {user: attempt.at_ms}, nx=True)
    else:
        touched.append(keys.times(user))
        pipe.lpush(touched[-1], attempt.at_ms)
        pipe.ltrim(touched[-1], 0, TIMELINE - 1)
        if attempt.device:
            touched.append(keys.device(attempt.device, "u"))
            pipe.sadd(touched[-1], user)
            if attempt.at_opening:
                touched.append(keys.device(attempt.device, "o"))
                pipe.sadd(touched[-1], user)
        if attempt.ip:
            touched.append(keys.ip_bucket(attempt.ip, attempt.at_ms))
            pipe.incr(touched[-1])
        if subnet_of(attempt.ip) and attempt.at_opening:
            touched.append(keys.subnet_opening(subnet_of(attempt.ip)))
            pipe.sadd(touched[-1], user)
    if attempt.verdict == FCODE_INVALID:
        touched.append(keys.account_fcodes(user))
        pipe.incr(touched[-1])
        if attempt.device:
            touched.append(keys.device(attempt.device, "f"))
            pipe.incr(touched[-1])
    for key in touched:
        pipe.expire(key, TTL_SECONDS)


def _row(attempt: Attempt) -> AttemptSignal:
    headers = {str(k)[:50]: str(v)[:MAX_HEADER] for k, v in (attempt.headers or {}).items()}
    return AttemptSignal(
        sale_id=attempt.sale_id, user_id=attempt.user_id, kind=attempt.kind[:12],
        at=ms_to_datetime(attempt.at_ms), ms_since_open=attempt.at_ms - attempt.opens_ms,
        device=attempt.device[:64], ip=attempt.ip[:45], subnet=subnet_of(attempt.ip),
        user_agent=(attempt.user_agent or "")[:MAX_AGENT], headers=headers,
        reserved=attempt.reserved, verdict=attempt.verdict[:30], ticket=attempt.ticket[:64],
        address_id=attempt.address_id)


def attempts_record(*, attempts: list[Attempt]) -> None:
    """Count the attempts in Redis (one pipelined round trip) and keep them in AttemptSignal.

    Call it before `risk_evaluate` on the same attempts: the counters then include them.
    """
    if not attempts:
        return
    with connection().pipeline(transaction=False) as pipe:
        for attempt in attempts:
            _record(pipe, attempt)
        pipe.execute()
    AttemptSignal.objects.bulk_create([_row(a) for a in attempts], batch_size=1000)


# --- antiscalper.rules ----------------------------------------------------------------------


def settings_load() -> dict[str, Setting]:
    """Every rule's data in one query; rules without a row keep their code defaults."""
    rows = {row.code: row for row in RuleSetting.objects.all()}
    loaded = {}
    for code, rule in RULES.items():
        row = rows.get(code)
        loaded[code] = Setting(row.enabled, row.threshold, row.weight, row.action) if row \
            else Setting(True, rule.threshold, rule.weight, rule.action)
    return loaded


def policy_load() -> Policy:
    row = RiskPolicy.objects.filter(pk=1).first()
    return Policy(row.review_score, row.block_score, row.ip_cap) if row else Policy()


def client_markers(*, user_agent: str, headers: dict[str, str], device: str,
                   ) -> tuple[list[str], list[str]]:
    """(headless markers, missing/inconsistent header markers) of one request."""
    agent = (user_agent or "").lower()
    hints = headers.get("sec-ch-ua", "").lower()
    headless = [m for m in HEADLESS_MARKERS if m in agent]
    if "headless" in hints:
        headless.append("sec-ch-ua:headless")
    missing = [name for name in ("accept", "accept-language") if not headers.get(name)]
    if not agent:
        missing.append("user-agent")
    if not device:
        missing.append("x-device-id")
    chromium = "chrome/" in agent or "chromium/" in agent
    if chromium and not hints:
        missing.append("chrome-without-sec-ch-ua")
    if hints and not chromium:
        missing.append("sec-ch-ua-without-chromium")
    return headless, missing


def decide(*, values: dict[str, float | None], settings: dict[str, Setting], policy: Policy,
           allowlisted: bool = False, details: dict[str, Any] | None = None) -> Verdict:
    """Fire the rules over measured values, score them and decide, with the reasons."""
    details = details or {}
    fired, score, ip_points = [], 0.0, 0.0
    forced: dict[str, str] = {}  # action -> the first rule that forced it
    for code, value in values.items():
        rule, setting = RULES[code], settings[code]
        if not setting.enabled or not _fires(rule, value, setting.threshold):
            continue
        action = Action.SCORE if rule.family == IP else setting.action
        if rule.family in CLAIMED and action == Action.BLOCK:
            action = Action.REVIEW  # a copied detail can flag, never block
        entry = {"code": code, "value": round(float(value), 3), "threshold": setting.threshold,
                 "weight": setting.weight, "action": str(action)}
        if code in details:
            entry["details"] = details[code]
        fired.append(entry)
        if rule.family == IP:
            ip_points += setting.weight
        else:
            score += setting.weight
        if action != Action.SCORE:
            forced.setdefault(action, code)
    score += min(ip_points, policy.ip_limit)
    if allowlisted:
        return Verdict(score, Decision.ALLOW, "allowlisted account (cleared by ops)", fired)
    if Action.BLOCK in forced:
        return Verdict(score, Decision.BLOCK,
                       f"rule {forced[Action.BLOCK]} blocks when it fires", fired)
    if score >= policy.block_score:
        return Verdict(score, Decision.BLOCK,
                       f"score {score:g} >= block score {policy.block_score:g}", fired)
    if Action.REVIEW in forced:
        return Verdict(score, Decision.REVIEW,
                       f"rule {forced[Action.REVIEW]} flags for review", fired)
    if score >= policy.review_score:
        return Verdict(score, Decision.REVIEW,
                       f"score {score:g} >= review score {policy.review_score:g}", fired)
    return Verdict(score, Decision.ALLOW, f"score {score:g} below {policy.review_score:g}", fired)


def _fires(rule, value: float | None, threshold: float) -> bool:
    if value is None:
        return False
    return value < threshold if rule.below else value >= threshold


# --- antiscalper.risk -----------------------------------------------------------------------


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
