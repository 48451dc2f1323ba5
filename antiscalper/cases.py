"""Ring cases: one linking cluster of a sale, reviewed and answered as one (issue 16, point 6).

The linking pass records a case for every cluster it flags (`cases_record`). Ops read the
case in admin (its members, their decisions and explanations, the building, card or device
that ties them, a small graph) and give one answer for the whole ring:

- `case_confirm`: every member with a pending linking flag in the sale is blocked as the
  linking pass blocks (a linking decision `block`, closed as confirmed) and blacklisted by
  account; the linking pass returns confirmed blocks with its own, so the sale's linking task
  cancels their unshipped orders (refunding paid ones) and gives their units back once, as for
  any block (the next incremental step, within a second or two: the members are marked as
  arrived again). Devices are not blacklisted: a device id is a claim anyone can copy, and its
  owner may be outside the ring.
- `case_clear`: every member with a pending linking flag is allowed (a linking decision
  `allow`, the flags closed as cleared) and the case's links stop tying its members on the
  next pass (`selectors.case_cleared_ties`), so the same building or card never flags them
  again in this sale; the realtime rule stops reading their ring size at once. Nobody is
  allowlisted: clearing answers these links, not every future sale (the flag queue's "false
  positive" does that for one account).

Members already answered (allowlisted, or their flags closed by an earlier case or flag) are
shown and left alone. Each answer is one transaction, conditional on the case still being
open (so two ops people acting at once act once, and a second confirm does nothing), written
to the case's history (who, when, the status and each member's decisions before) and to the
admin log. An answer names the members its person saw: if the linking pass grew the case
since, nothing happens and the case is shown again.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from antiscalper import services
from antiscalper.arrivals import participants_mark
from antiscalper.attempts import Keys
from antiscalper.audit import ADDED, CHANGED, audit
from antiscalper.models import Decision, Kind, RingCase, RiskDecision, Source
from antiscalper.selectors import case_get
from core.errors import DomainError, ErrorCode, invalid
from core.redis_client import connection

OPEN = RingCase.Status.OPEN


def _merged_links(old: list[dict], new: list[dict]) -> list[dict]:
    """The case's links after a pass: the pass's own, and any earlier one it no longer sees,
    each with every member it ever tied (the case explains everyone it holds)."""
    merged = {(link["kind"], link["value"]): dict(link) for link in old}
    for link in new:
        key = (link["kind"], link["value"])
        members = set(merged.get(key, {}).get("members", [])) | set(link["members"])
        merged[key] = {**link, "members": sorted(members)}
    return sorted(merged.values(), key=lambda x: (x["kind"], x["shown"]))


def cases_record(*, sale_id: int, clusters: list[dict], now: datetime | None = None) -> int:
    """Record the flagged clusters of a linking pass as cases; the number created or grown.

    A cluster with someone new joins the open case it overlaps most (which grows), or opens a
    case of its own; a cluster whose members were all answered in earlier cases adds nothing.
    """
    now = now or timezone.now()
    changed = 0
    with transaction.atomic():
        existing = list(RingCase.objects.select_for_update().filter(sale_id=sale_id))
        answered = {u for c in existing if c.status != OPEN for u in c.members}
        open_of = {u: c for c in existing if c.status == OPEN for u in c.members}
        for cluster in clusters:
            members = set(cluster["members"])
            if members <= answered:
                continue
            overlapping = {open_of[u].pk: open_of[u] for u in members if u in open_of}
            if not overlapping:
                case = RingCase.objects.create(
                    sale_id=sale_id, members=sorted(members), links=cluster["ties"],
                    strength=cluster["strength"], created_at=now, updated_at=now)
                audit(actor_id=None, objects=[case], action=ADDED,
                      message=f"Opened by linking: cluster {cluster['id']}.")
            else:
                case = max(overlapping.values(),
                           key=lambda c: (len(members & set(c.members)), -c.pk))
                grown = sorted(set(case.members) | members)
                links = _merged_links(case.links, cluster["ties"])
                if grown == case.members and links == case.links:
                    continue
                RingCase.objects.filter(pk=case.pk, status=OPEN).update(
                    members=grown, links=links, strength=max(case.strength,
                                                             cluster["strength"]),
                    updated_at=now)
                case.members, case.links = grown, links
            for user_id in case.members:
                open_of[user_id] = case
            changed += 1
    return changed


def _pending(sale_id: int, members: list[int]) -> dict[int, list[RiskDecision]]:
    """Each member's open linking flags in the sale (review or block, not yet answered)."""
    pending: dict[int, list[RiskDecision]] = {}
    for decision in RiskDecision.objects.select_for_update().filter(
            sale_id=sale_id, source=RiskDecision.Source.LINKING, user_id__in=members,
            decision__in=[Decision.REVIEW, Decision.BLOCK],
            review_status=RiskDecision.Review.OPEN).order_by("pk"):
        pending.setdefault(decision.user_id, []).append(decision)
    return pending


def _close(case: RingCase, *, status: str, seen: list[int] | None, actor_id: int | None,
           now: datetime) -> tuple[RingCase, dict[int, list[RiskDecision]]] | None:
    """Take the open case for this answer (None if it was answered already); its members'
    open flags, locked. Refuses if the case grew past the members its person saw."""
    locked = RingCase.objects.select_for_update().get(pk=case.pk)
    if locked.status != OPEN:
        return None
    if seen is not None and sorted(seen) != locked.members:
        raise invalid(gettext("The case changed since it was shown (the linking pass added "
                              "members); review it again."), members=["changed"])
    pending = _pending(locked.sale_id, locked.members)
    locked.history = [*locked.history, {
        "from": locked.status, "to": status, "by": actor_id, "at": now.isoformat(),
        "members": {str(u): [d.decision for d in pending.get(u, [])] for u in locked.members}}]
    RingCase.objects.filter(pk=locked.pk, status=OPEN).update(
        status=status, acted_by_id=actor_id, acted_at=now, history=locked.history,
        updated_at=now)
    locked.status, locked.acted_by_id, locked.acted_at = status, actor_id, now
    return locked, pending


def _answer_flags(pending: dict[int, list[RiskDecision]], status: str, actor_id: int | None,
                  now: datetime) -> None:
    ids = [d.pk for flags in pending.values() for d in flags]
    RiskDecision.objects.filter(pk__in=ids, review_status=RiskDecision.Review.OPEN).update(
        review_status=status, reviewed_by_id=actor_id, reviewed_at=now)


def _decision(case: RingCase, *, user_id: int, decision: str, status: str, reason: str,
              actor_id: int | None, now: datetime) -> RiskDecision:
    return RiskDecision(
        sale_id=case.sale_id, user_id=user_id, source=RiskDecision.Source.LINKING,
        decision=decision, reason=reason[:200], review_status=status, reviewed_by_id=actor_id,
        reviewed_at=now, created_at=now,
        rules=[{"code": "linked_cluster", "value": len(case.members), "threshold": 0,
                "weight": 0, "action": "ops",
                "details": {"case": case.pk, "members": case.members,
                            "links": [{k: link[k] for k in ("kind", "accounts", "strength")}
                                      | {"value": link["shown"]} for link in case.links]}}])


def case_confirm(*, sale_id: int, case_id: int, actor_id: int | None = None,
                 seen: list[int] | None = None, now: datetime | None = None) -> list[int] | None:
    """Confirm the ring: block and blacklist every member with a pending flag. The members
    blocked now (None if the case was answered already); their orders go with the next pass."""
    now = now or timezone.now()
    with transaction.atomic():
        taken = _close(case_get(sale_id=sale_id, case_id=case_id), seen=seen,
                       status=RingCase.Status.CONFIRMED, actor_id=actor_id, now=now)
        if taken is None:
            return None
        case, pending = taken
        confirmed = RiskDecision.Review.CONFIRMED
        _answer_flags(pending, confirmed, actor_id, now)
        reason = f"ring of {len(case.members)} linked accounts, confirmed by our review"
        RiskDecision.objects.bulk_create([
            _decision(case, user_id=user_id, decision=Decision.BLOCK, status=confirmed,
                      reason=reason, actor_id=actor_id, now=now)
            for user_id in sorted(pending)
            if not any(d.decision == Decision.BLOCK for d in pending[user_id])])
        for user_id in sorted(pending):
            services.blacklist_add(kind=Kind.ACCOUNT, value=str(user_id), source=Source.RULE,
                                   reason=f"Ring case #{case.pk} (sale {sale_id}) confirmed",
                                   actor_id=actor_id, now=now)
        audit(actor_id=actor_id, objects=[case], action=CHANGED,
              message=f"Confirmed: {len(pending)} of {len(case.members)} members blocked.")
        members = sorted(pending)
        if members:
            def members_relink() -> None:  # the next incremental step cancels their orders
                participants_mark(sale_id=sale_id, user_ids=members)

            transaction.on_commit(members_relink, robust=True)
    return sorted(pending)


def case_clear(*, sale_id: int, case_id: int, actor_id: int | None = None,
               seen: list[int] | None = None, now: datetime | None = None) -> list[int] | None:
    """Clear the ring: allow every member with a pending flag, and keep the case's links from
    tying them again. The members allowed now (None if the case was answered already)."""
    now = now or timezone.now()
    with transaction.atomic():
        taken = _close(case_get(sale_id=sale_id, case_id=case_id), seen=seen,
                       status=RingCase.Status.CLEARED, actor_id=actor_id, now=now)
        if taken is None:
            return None
        case, pending = taken
        cleared = RiskDecision.Review.CLEARED
        _answer_flags(pending, cleared, actor_id, now)
        RiskDecision.objects.bulk_create([
            _decision(case, user_id=user_id, decision=Decision.ALLOW, status=cleared,
                      reason=f"cleared by ops: ring case #{case.pk} is not a ring",
                      actor_id=actor_id, now=now)
            for user_id in sorted(pending)])
        audit(actor_id=actor_id, objects=[case], action=CHANGED,
              message=f"Cleared: {len(pending)} of {len(case.members)} members allowed.")
        members = sorted(pending)
        if members:
            def ring_sizes_forget() -> None:  # named: Django logs a failed callback by name
                connection().hdel(Keys(sale_id).clusters, *members)

            transaction.on_commit(ring_sizes_forget, robust=True)
    return members


ANSWERS = {"confirm": (RingCase.Status.CONFIRMED, case_confirm),
           "clear": (RingCase.Status.CLEARED, case_clear)}


def case_answer(*, sale_id: int, case_id: int, answer: str, actor_id: int | None = None,
                seen: list[int] | None = None) -> tuple[RingCase, list[int]]:
    """Confirm or clear a case (the ops API's one entry): the case as it is now and the
    members answered now. Asking again what the case was answered with answers nothing and
    is not an error (a retried request); asking the other answer is 409 `case_answered`."""
    status, act = ANSWERS[answer]
    answered = act(sale_id=sale_id, case_id=case_id, actor_id=actor_id, seen=seen)
    case = case_get(sale_id=sale_id, case_id=case_id)
    if answered is None and case.status != status:
        raise DomainError(ErrorCode.CASE_ANSWERED,
                          _answered_already(case.status),
                          details={"status": case.status})
    return case, answered or []


def _answered_already(status: str) -> str:
    """The refusal of an answer to a case answered before, in the reader's language."""
    if status == RingCase.Status.CONFIRMED:
        return gettext("The case was confirmed already; nothing was changed.")
    if status == RingCase.Status.CLEARED:
        return gettext("The case was cleared already; nothing was changed.")
    return gettext("The case was answered already; nothing was changed.")
