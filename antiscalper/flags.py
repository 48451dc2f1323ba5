"""The review queue: reading decisions, and the two answers ops give to a flag.

"Confirm" blacklists the account (and the device the decision saw) with source=rule;
"false positive" allowlists the account, which the gate sees at once (the mirror drops it)
and every later evaluation answers "allow" with the reason recorded. Both are conditional
on the flag still being open, so two ops people acting at once act once.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from antiscalper import services
from antiscalper.models import AttemptSignal, Decision, Kind, RiskDecision, Source

FLAGGED = [Decision.REVIEW, Decision.BLOCK]


def flag_list(*, sale_id: int | None = None, decision: str | None = None,
              ) -> QuerySet[RiskDecision]:
    """Decisions newest first; flags (review, block) unless a decision is asked for."""
    decisions = RiskDecision.objects.all()
    if sale_id is not None:
        decisions = decisions.filter(sale_id=sale_id)
    if decision:
        return decisions.filter(decision=decision)
    return decisions.filter(decision__in=FLAGGED)


def _close(decision_id: int, status: str, actor_id: int | None, now: datetime
           ) -> RiskDecision | None:
    changed = RiskDecision.objects.filter(
        pk=decision_id, review_status=RiskDecision.Review.OPEN,
    ).update(review_status=status, reviewed_by_id=actor_id, reviewed_at=now)
    return RiskDecision.objects.get(pk=decision_id) if changed else None


def _summary(decision: RiskDecision) -> str:
    codes = ", ".join(decision.rule_codes()) or "no rule"
    return f"Risk decision #{decision.pk} (sale {decision.sale_id}): {codes}"[:200]


def flag_confirm(*, decision_id: int, actor_id: int | None = None,
                 now: datetime | None = None) -> bool:
    """Blacklist the flagged account and its device; False if the flag was already handled."""
    now = now or timezone.now()
    with transaction.atomic():
        decision = _close(decision_id, RiskDecision.Review.CONFIRMED, actor_id, now)
        if decision is None:
            return False
        services.blacklist_add(kind=Kind.ACCOUNT, value=str(decision.user_id),
                               reason=_summary(decision), source=Source.RULE,
                               actor_id=actor_id, now=now)
        if decision.device:
            services.blacklist_add(kind=Kind.DEVICE, value=decision.device,
                                   reason=_summary(decision), source=Source.RULE,
                                   actor_id=actor_id, now=now)
    return True


def flag_clear(*, decision_id: int, actor_id: int | None = None,
               now: datetime | None = None) -> bool:
    """A false positive: allowlist the account; False if the flag was already handled."""
    now = now or timezone.now()
    with transaction.atomic():
        decision = _close(decision_id, RiskDecision.Review.CLEARED, actor_id, now)
        if decision is None:
            return False
        services.allowlist_add(kind=Kind.ACCOUNT, value=str(decision.user_id),
                               reason=f"False positive: {_summary(decision)}"[:200],
                               source=Source.MANUAL, actor_id=actor_id, now=now)
    return True


def sale_summary(*, sale_id: int, top: int = 10) -> dict:
    """A sale's risk numbers: attempts, admitted, decisions, top rules, linked clusters."""
    attempts = AttemptSignal.objects.filter(sale_id=sale_id)
    decisions = RiskDecision.objects.filter(sale_id=sale_id)
    by_decision = dict(decisions.values("decision").annotate(n=Count("id"))
                       .values_list("decision", "n"))
    rules, clusters = Counter(), {}
    for source, fired in decisions.values_list("source", "rules").iterator(chunk_size=2000):
        for rule in fired:
            rules[rule["code"]] += 1
            if source == RiskDecision.Source.LINKING and "details" in rule:
                details = rule["details"]
                clusters[details["id"]] = {"id": details["id"], "size": rule["value"],
                                           "members": details["members"],
                                           "links": details["links"]}
    return {
        "sale_id": sale_id,
        "attempts": attempts.count(),
        "accounts": attempts.values("user_id").order_by().distinct().count(),
        "admitted": attempts.filter(verdict="admitted").count(),
        "decisions": {d: by_decision.get(d, 0) for d in Decision.values},
        "blocked_accounts": decisions.filter(decision=Decision.BLOCK)
        .values("user_id").order_by().distinct().count(),
        "top_rules": rules.most_common(top),
        "clusters": sorted(clusters.values(), key=lambda c: -c["size"]),
    }


def sales_seen(*, limit: int = 50) -> list[int]:
    """The most recent sale ids with attempts or decisions (for the summary page's index)."""
    ids = set(AttemptSignal.objects.values_list("sale_id", flat=True).distinct()
              .order_by("-sale_id")[:limit])
    ids |= set(RiskDecision.objects.values_list("sale_id", flat=True).distinct()
               .order_by("-sale_id")[:limit])
    return sorted(ids, reverse=True)[:limit]
