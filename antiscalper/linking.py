"""Linking: the heavier pass (Celery, during and after a sale) that finds account clusters.

The graph: every account that took part in the sale (reserved, tried to buy, or holds an
order) is a node, not only its buyers: the members of a ring who lost the race belong to
the ring too, and flagging them lets ops blacklist the whole ring before the next sale.
Two accounts are linked when they share an identifier strong enough to mean "one
operator". An identifier's strength is

    strength = BASE[kind] * min(1, RARE_AT / accounts)

where `accounts` counts every account holding it (across the store for phones, addresses
and payment instruments; across the sale for devices and subnets). Rare identifiers keep
their full base; common ones (a campus mailroom address, a shared default device id)
fade. Only identifiers of strength >= LINK_MIN join accounts: device 1.0, payment 1.0, a
confirmed phone 1.0, phone 0.9, address 0.7 do while rare; a /24 subnet (0.2) never does.
Sharing a NAT IP therefore never puts genuine fans in one cluster; the subnet only adds to
the explanation of a cluster that stronger identifiers already formed.

The building (`shop.addresses`: an address with its flat, floor and room dropped) is where
a ring's units go when each account writes its drop address a little differently. Its
*genuine* population, the accounts delivering there that bought before the sale opened, is
never tied by it (an established customer is not punished because new accounts use its
building), and weighs it against `RARE_AT_BUILDING`: a drop building few genuine customers
use ties its other accounts (0.6); an office tower where many genuine fans work fades and
ties no one. A phone block (`antiscalper.phone_blocks`: a run of 100 consecutive numbers, as
a ring buys its SIMs) is claimed and weighed the same way, by the accounts holding it
normally (`RARE_AT_PHONE_BLOCK`); its established holders are never tied by it either.

Proven and claimed identifiers. Anyone can type a phone or an address into their own
address book and send any X-Device-Id header, so those are *claimed*: they say something
about the accounts that claim them, nothing about an account whose details were copied.
*Proven* (verified) identifiers are the ones a shopper cannot take from someone else: a
payment instrument the gateway charged (a succeeded payment; accounts are tied by the
gateway's fingerprint of it, `Payment.fingerprint`, never by the string the client sent)
and the account's registered phone once it is confirmed by a code sent to it
(`shop.phones`; an unconfirmed one is only claimed). Accounts that confirmed one number,
however each wrote it ("+86 138..." and "138..."), share its `verified_phone`: the same SIM
read their codes, so it ties them (1.0) and may block. The simulated gateway charges any
instrument string it is sent, so a charge proves an instrument only for its established
holders (its first charged account, and those charged on it before the sale opened);
accounts first charged on it since are tied to each other through it, never to them, and
their own group counts those holders too, so copiers can be blocked and the holder they
copied is not (`_copied_instruments_apart`; a device id the store issued to a browser,
`core.devices`, signed and kept in an HttpOnly cookie, is proven the same way as
`issued_device`: accounts presenting it share that browser, `_copied_devices_apart`; a
number confirmed again since the sale opened, as a carrier's recycled number would be, is
kept apart the same way). Hence:
- a copy never ties the original to the copier: an address-book phone that is another
  account's registered phone links the accounts that copied it to each other, never to its
  registered owner (three throwaway accounts with a victim's phone are a cluster of three,
  without the victim);
- a cluster's members are blocked (and their orders cancelled) only when proven
  identifiers alone tie at least `threshold` of them together; a cluster held together by
  claimed identifiers is at most reviewed: a person looks before anyone loses an order.

A connected component of at least `linked_cluster.threshold` accounts (default 4) is
scalper-like. Its members who bought, and are tied by proven identifiers to a group of that
size, get a stored decision with the rule's action (default block); the others get at most
review; allowlisted ones get allow, reason recorded. The realtime rule reads the size of
the proven group (what may block), so a claimed cluster cannot block there either.

Each such cluster is also a case for ops (`antiscalper.cases`): one answer for the ring.
A confirmed case's members are returned to cancel like any block; a cleared case's links no
longer tie its members (`selectors.case_cleared_ties`), so the same links never flag them
again, while a new account on the same building or card is still tied to the others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from redis.exceptions import LockError

from antiscalper import cases, established, holders, rules, selectors
from antiscalper.attempts import TTL_SECONDS, Keys
from antiscalper.models import (
    Action,
    AllowlistEntry,
    AttemptSignal,
    Decision,
    Kind,
    RiskDecision,
    live_q,
)
from core.devices import ISSUED_KIND
from core.redis_client import connection
from shop.models import Order

ADMITTED = "admitted"
LOCK_SECONDS = 600
FULL, DECIDING = "linking", "deciding"
# The full pass reads the sale without holding up the incremental steps, and decides under
# the lock they decide under, briefly: a pass killed while deciding holds them up for this
# long at most (a killed pass still keeps other full passes out for LOCK_SECONDS).
DECIDE_LOCK_SECONDS = 60
DECIDE_WAIT_SECONDS = 10
# A stored decision is only ever followed by a stronger one (review -> block once they buy)
RANK = {Decision.ALLOW: 0, Decision.REVIEW: 1, Decision.BLOCK: 2}
# Verified identities (a charged instrument's fingerprint, a number confirmed by a code)
# weigh the most; what anyone can type or send weighs less, and never blocks alone.
BASE = {"device": 1.0, "issued_device": 1.0, "payment": 1.0, "verified_phone": 1.0,
        "phone": 0.9, "address": 0.7, "building": 0.6, "phone_block": 0.6, "subnet": 0.2}
RARE_AT = 50
RARE_AT_BUILDING = 20  # genuine customers a building may have and still tie its others
# Accounts a phone block (antiscalper.phone_blocks) may hold normally and still tie the sale's
# newcomers in it: a block of 100 numbers is a run a ring bought, or a carrier's ordinary stock.
RARE_AT_PHONE_BLOCK = 3
RARE_AT_KIND = {"building": RARE_AT_BUILDING, "phone_block": RARE_AT_PHONE_BLOCK}
LINK_MIN = 0.5


def strength(*, kind: str, accounts: int) -> float:
    """`accounts` holding the identifier; for a building its genuine customers, for a phone
    block its normal holders."""
    return BASE[kind] * min(1.0, RARE_AT_KIND.get(kind, RARE_AT) / max(accounts, 1))


class _Components:
    """Union-find over user ids."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _shown(kind: str, value: str) -> str:
    """A link's value as ops read it: a payment's fingerprint by its first 8 hex digits
    (enough to tell two cards apart, and the card itself is never shown); a device id the
    store issued by the first 8 characters of its token (the whole id, signature and all,
    is a credential: whoever sends it is tied to its holders)."""
    if kind == "payment":
        return value[:8] + value[32:]
    if kind == ISSUED_KIND:
        token, _, rest = value.partition(":")
        return f"{token[:8]}…" + (rest[rest.find(" ("):] if " (" in rest else "")
    return value


def clusters_find(*, sale_id: int, graph: tuple[holders.Held, dict] | None = None,
                  ) -> list[dict]:
    """The sale's clusters of two or more participants, each with the identifiers that link
    it (`links`, as ops may read them; `ties`, the same with the value linking holds and the
    members each ties, for the cluster's case) and, per member, the size of the group proven
    identifiers alone tie it to (`proven`: what may block). A cleared case's links tie none
    of its members. `graph`: the holders of part of the sale, closed under its links (the
    incremental pass's), else every participant's."""
    held, population = graph or holders.identifiers(sale_id)
    established.households_apart(held, strong=lambda key: strength(
        kind=key[0], accounts=population.get(key, len(held.holders[key]))) >= LINK_MIN)
    cleared = selectors.case_cleared_ties(sale_id=sale_id)
    components, proven = _Components(), _Components()
    links = []
    for key, users in held.holders.items():
        tied = held.linked(key) - cleared.get(key, set())
        if len(tied) < 2:
            continue
        kind, value = key
        weight = strength(kind=kind, accounts=population.get(key, len(users)))
        links.append((kind, value, tied, weight))
        if weight >= LINK_MIN:
            first, *rest = sorted(tied)
            for other in rest:
                components.union(first, other)
            sure = sorted(held.proven_linked(key) & tied)
            for other in sure[1:]:
                proven.union(sure[0], other)
    members: dict[int, set[int]] = defaultdict(set)
    for user_id in list(components.parent):
        members[components.find(user_id)].add(user_id)
    for key in held.standing_in:
        for user_id in held.proven[key] - cleared.get(key, set()):
            proven.find(user_id)  # a lone copier is a group of its own
    proven_groups: dict[int, int] = defaultdict(int)
    for user_id in list(proven.parent):
        proven_groups[proven.find(user_id)] += 1
    # Copiers of an established holder's instrument count as tied to its holders, for their
    # own group only: the copiers can be blocked, the holders they copied are not.
    for key, count in held.standing_in.items():
        for root in {proven.find(user_id) for user_id in held.proven[key]
                     - cleared.get(key, set())}:
            proven_groups[root] += count
    # Customers whose details a cluster's newcomers copied count into its size (for the
    # rule), never into its members (antiscalper.established.households_apart).
    standing: dict[int, int] = defaultdict(int)
    for key, count in held.standing_claimed.items():
        for root in {components.find(u) for u in held.linked(key) if u in components.parent}:
            standing[root] = max(standing[root], count)
    shown: dict[int, list[dict]] = defaultdict(list)
    ties: dict[int, list[dict]] = defaultdict(list)
    for kind, value, holding, weight in links:  # one pass: each link to the clusters it ties
        inside: dict[int, list[int]] = defaultdict(list)
        for user_id in holding:
            if user_id in components.parent:
                inside[components.find(user_id)].append(user_id)
        for root, tied in inside.items():
            if len(tied) >= 2:
                link = {"kind": kind, "value": _shown(kind, value), "accounts": len(tied),
                        "strength": round(weight, 3)}
                shown[root].append(link)
                ties[root].append({**link, "shown": link["value"], "value": value,
                                   "members": sorted(tied)})
    clusters = []
    for root, users in members.items():
        if len(users) < 2:
            continue
        shown[root].sort(key=lambda x: (x["kind"], x["value"]))
        ties[root].sort(key=lambda x: (x["kind"], x["shown"]))
        clusters.append({"id": f"{sale_id}-{min(users)}", "members": sorted(users),
                         "size": len(users), "standing": standing[root],
                         "links": shown[root], "ties": ties[root],
                         "strength": round(sum(x["strength"] * (x["accounts"] - 1)
                                               for x in shown[root]), 3),
                         "proven": {u: proven_groups[proven.find(u)] if u in proven.parent
                                    else 1 for u in sorted(users)}})
    return sorted(clusters, key=lambda c: -c["size"])


def _buyers(sale_id: int, users: set[int]) -> set[int]:
    """Those of `users` the gate admitted in the sale or that hold one of its orders."""
    found: set[int] = set()
    for part in holders.sliced(users):
        found |= set(AttemptSignal.objects.filter(sale_id=sale_id, verdict=ADMITTED,
                                                  user_id__in=part)
                     .values_list("user_id", flat=True).order_by().distinct())
        found |= set(Order.objects.filter(sale_id=sale_id, user_id__in=part)
                     .values_list("user_id", flat=True).order_by().distinct())
    return found


# Given some accounts, those of them holding a stake in the sale that counts as buying (the
# sales app's reservations before the sale opens: antiscalper knows no sales).
Staked = Callable[[set[int]], set[int]]


def linking_run(*, sale_id: int, now: datetime | None = None,
                staked: Staked | None = None) -> list[int]:
    """Find the sale's scalper-like clusters, store their decisions, return who to cancel.

    A member who bought gets the rule's action (default block) and the returned accounts
    (decision block, not allowlisted) lose their unshipped orders of this sale. A member who
    bought nothing has nothing to cancel: their decision is at most review, a lead for ops to
    confirm (and blacklist), never a block nobody has looked at. Running it again adds
    decisions only for newly linked accounts and for members whose decision grows stronger
    (a reviewed member who has since bought is blocked); none is repeated or weakened. One
    pass per sale at a time (beat starts one a minute; a big sale's may take longer); it
    decides under the lock the incremental steps decide under (`antiscalper.incremental`),
    so decisions are written by one of them at a time.

    `staked`: accounts that count as having bought (reserved, before the sale opens), so a
    ring linked at reservation is blocked before T0 when proven identifiers tie it.
    """
    now = now or timezone.now()
    with sale_lock(sale_id, FULL) as held:
        if not held:
            return []  # a pass over this sale is running: it cancels what it finds
        clusters = clusters_find(sale_id=sale_id)
        with sale_lock(sale_id, DECIDING, wait=DECIDE_WAIT_SECONDS,
                       timeout=DECIDE_LOCK_SECONDS) as deciding:
            if not deciding:
                return []  # steps kept deciding: the next pass decides what they did not
            blocked = clusters_decide(sale_id=sale_id, clusters=clusters, now=now,
                                      staked=staked)
        return sorted(blocked | confirmed_blocks(sale_id, now))


@contextmanager
def sale_lock(sale_id: int, name: str, *, wait: float | None = None,
              timeout: float = LOCK_SECONDS) -> Iterator[bool]:
    """A per-sale linking lock; yields whether it is held. FULL: one full pass per sale at a
    time; DECIDING: one writer of the sale's linking decisions at a time (the full pass's
    deciding, or an incremental step). `wait`: seconds to wait for it; `timeout`: when a
    holder killed with it is given up on."""
    lock = connection().lock(f"{Keys(sale_id).clusters}:{name}", timeout=timeout,
                             blocking=wait is not None, blocking_timeout=wait)
    if not lock.acquire():
        yield False
        return
    try:
        yield True
    finally:
        try:
            lock.release()
        except LockError:
            pass  # it outlived its timeout (another pass may have started): nothing to free


def confirmed_blocks(sale_id: int, now: datetime) -> set[int]:
    """Accounts whose block ops confirmed in a case, less those allowlisted since."""
    confirmed = selectors.case_confirmed_blocks(sale_id=sale_id)
    for part in holders.sliced(confirmed):
        confirmed -= {int(v) for v in AllowlistEntry.objects.filter(
            live_q(now), kind=Kind.ACCOUNT, value__in=[str(u) for u in part],
        ).values_list("value", flat=True)}
    return confirmed


def clusters_decide(*, sale_id: int, clusters: list[dict], now: datetime,
                    staked: Staked | None = None) -> set[int]:
    """Store what these clusters mean (the realtime rule's ring sizes, the cases, each
    member's decision) and return the members the rule blocks, to be cancelled. The full
    pass gives it every cluster; the incremental pass the clusters its new accounts touch,
    which are the full pass's own (antiscalper.incremental), so both decide alike."""
    setting = rules.settings_load()["linked_cluster"]
    keys = Keys(sale_id)
    if clusters:
        with connection().pipeline(transaction=False) as pipe:
            pipe.hset(keys.clusters, mapping={u: c["proven"][u] for c in clusters
                                              for u in c["members"]})
            pipe.expire(keys.clusters, TTL_SECONDS)
            pipe.execute()
    if not setting.enabled:
        return set()
    flagged = {u: c for c in clusters
               if max(c["size"] + c["standing"], *c["proven"].values())
               >= setting.threshold
               for u in c["members"]}
    with transaction.atomic():  # the cases and the decisions together, or neither
        return _flagged_decide(sale_id, flagged, setting, now, staked)


def _flagged_decide(sale_id: int, flagged: dict[int, dict], setting: rules.Setting,
                    now: datetime, staked: Staked | None) -> set[int]:
    cases.cases_record(sale_id=sale_id, now=now, clusters=list(
        {c["id"]: c for c in flagged.values()}.values()))
    allowlisted: set[int] = set()
    known: dict[int, set[str]] = defaultdict(set)
    for part in holders.sliced(flagged):
        allowlisted |= {int(v) for v in AllowlistEntry.objects.filter(
            live_q(now), kind=Kind.ACCOUNT, value__in=[str(u) for u in part],
        ).values_list("value", flat=True)}
        for user_id, decision in RiskDecision.objects.filter(
                sale_id=sale_id, source=RiskDecision.Source.LINKING, user_id__in=part,
        ).values_list("user_id", "decision"):
            known[user_id].add(decision)
    policy = rules.policy_load()
    if setting.action == Action.BLOCK or setting.weight >= policy.block_score:
        outcome = Decision.BLOCK
    elif setting.action == Action.REVIEW or setting.weight >= policy.review_score:
        outcome = Decision.REVIEW
    else:
        outcome = Decision.ALLOW
    buyers = _buyers(sale_id, set(flagged)) if flagged else set()
    reserved = staked(set(flagged)) - buyers if flagged and staked is not None else set()
    buyers |= reserved
    fresh = []
    blocked: set[int] = set()
    for user_id, cluster in flagged.items():
        cleared = user_id in allowlisted
        bought = user_id in buyers
        proven = cluster["proven"][user_id] >= setting.threshold
        decision = (Decision.ALLOW if cleared else
                    Decision.REVIEW if outcome == Decision.BLOCK and not (bought and proven)
                    else outcome)
        if decision == Decision.BLOCK:
            blocked.add(user_id)
        if known[user_id] and RANK[decision] <= max(RANK[d] for d in known[user_id]):
            continue
        fired = [{"code": "linked_cluster", "value": cluster["size"],
                  "threshold": setting.threshold, "weight": setting.weight,
                  "action": str(setting.action),
                  "details": {k: cluster[k] for k in ("id", "strength", "links", "members")}}]
        reason = f"linked cluster {cluster['id']} of {cluster['size']} accounts"
        if cleared:
            reason = "allowlisted account (cleared by ops)"
        elif decision != outcome and not proven:
            reason += "; tied only by copyable details (address, phone, device), so for review"
        elif decision != outcome:
            reason += "; bought nothing in this sale, so for review"
        elif user_id in reserved:
            reason += "; holds a reservation (a draw entry) of this sale"
        fresh.append(RiskDecision(
            sale_id=sale_id, user_id=user_id, source=RiskDecision.Source.LINKING,
            score=setting.weight, rules=fired, created_at=now, decision=decision,
            reason=reason[:200]))
    RiskDecision.objects.bulk_create(fresh, batch_size=500)
    return blocked if outcome == Decision.BLOCK else set()
