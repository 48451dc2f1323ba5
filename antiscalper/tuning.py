"""Ops tuning the risk engine: a rule's setting (RuleSetting) and the policy's scores.

A threshold or a weight decides who is blocked at the next sale, so each change is audited
with the value it replaced (who, when, old and new: an admin LogEntry on the row), and made
only if the row still holds what the person saw when they confirmed: two people tuning at
once cannot overwrite each other unseen. One transaction per function; the checks here are
the only ones (the admin's forms call `rule_setting_validate` and `policy_validate`).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext

from antiscalper import rules
from antiscalper.audit import CHANGED, audit
from antiscalper.models import Action, RiskPolicy, RuleSetting
from core.errors import invalid, not_found

RULE_FIELDS = ("enabled", "threshold", "weight", "action", "description")
POLICY_FIELDS = ("review_score", "block_score", "ip_cap")


def rule_setting_validate(*, code: str, fields: dict[str, Any]) -> None:
    """Refuse a setting the engine cannot honour: an unknown rule, a negative weight, or an IP
    rule that would block or flag on its own (genuine fans share NATs)."""
    rule = rules.RULES.get(code)
    if rule is None:
        raise invalid(gettext("No such rule; one of %(codes)s.")
                      % {"codes": ", ".join(rules.RULES)}, code=[gettext("unknown rule")])
    if rule.family == rules.IP and fields.get("action", Action.SCORE) != Action.SCORE:
        raise invalid(gettext("IP rules only add to the score: an IP alone never blocks or "
                              "flags (genuine fans share NATs)."),
                      action=[gettext("score only for an IP rule")])
    if (fields.get("weight") or 0) < 0:
        raise invalid(gettext("Weights are zero or more."), weight=[gettext("must be >= 0")])


def policy_validate(*, fields: dict[str, Any]) -> None:
    """Scores are positive and a review comes before a block (review <= block)."""
    for name in POLICY_FIELDS:
        if name in fields and fields[name] is not None and fields[name] < 0:
            raise invalid(gettext("Scores are zero or more."),
                          **{name: [gettext("must be >= 0")]})
    review, block = fields.get("review_score"), fields.get("block_score")
    if review is not None and block is not None and review > block:
        raise invalid(gettext("The review score cannot be above the block score (a flag for "
                              "review would never be raised)."),
                      review_score=[gettext("must be <= %(block)s") % {"block": f"{block:g}"}])


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _change(row, *, fields: tuple[str, ...], changes: dict[str, Any],
            seen: dict[str, Any] | None, actor_id: int | None) -> dict[str, tuple[Any, Any]]:
    """Apply `changes` to the locked `row` if it still holds `seen`; audit old and new."""
    unknown = set(changes) - set(fields)
    if unknown:
        raise invalid(gettext("These cannot be changed here."),
                      **{f: [gettext("not a setting")] for f in unknown})
    done = {f: (getattr(row, f), new) for f, new in changes.items() if getattr(row, f) != new}
    if not done:
        return {}  # already so: a retried confirmation changes nothing, records nothing
    stale = {f: getattr(row, f) for f, value in (seen or {}).items() if getattr(row, f) != value}
    if stale:
        raise invalid(gettext("Someone changed this since you looked; review the change again."),
                      **{f: [gettext("now %(value)s") % {"value": _shown(v)}]
                         for f, v in stale.items()})
    for name, (_, new) in done.items():
        setattr(row, name, new)
    row.save(update_fields=[*done, "updated_at"])
    audit(actor_id=actor_id, objects=[row], action=CHANGED, message="Changed " + "; ".join(
        f"{name} from {_shown(old)} to {_shown(new)}" for name, (old, new) in done.items())
        + ".")
    return done


def rule_setting_change(*, code: str, changes: dict[str, Any], seen: dict[str, Any] | None,
                        actor_id: int | None) -> dict[str, tuple[Any, Any]]:
    """Change a rule's setting; returns {field: (old, new)} of what changed (empty: nothing
    to change). `seen`: the values the person confirmed against (None: no check)."""
    with transaction.atomic():
        row = RuleSetting.objects.select_for_update().filter(code=code).first()
        if row is None:
            raise not_found("rule setting")
        rule_setting_validate(code=code, fields={
            **{f: getattr(row, f) for f in RULE_FIELDS}, **changes})
        return _change(row, fields=RULE_FIELDS, changes=changes, seen=seen, actor_id=actor_id)


def policy_change(*, changes: dict[str, Any], seen: dict[str, Any] | None,
                  actor_id: int | None) -> dict[str, tuple[Any, Any]]:
    """Change the policy's scores (the one row, made with the defaults if missing); returns
    {field: (old, new)} of what changed. `seen` as in `rule_setting_change`."""
    with transaction.atomic():
        RiskPolicy.objects.get_or_create(pk=1)
        row = RiskPolicy.objects.select_for_update().get(pk=1)
        policy_validate(fields={**{f: getattr(row, f) for f in POLICY_FIELDS}, **changes})
        return _change(row, fields=POLICY_FIELDS, changes=changes, seen=seen,
                       actor_id=actor_id)
