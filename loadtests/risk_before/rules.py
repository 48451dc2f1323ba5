"""The frozen antiscalper.rules (see loadtests.risk_before): verbatim, do not edit."""

from __future__ import annotations

from typing import Any

from antiscalper.models import (
    Action,
    Decision,
    RiskPolicy,
    RuleSetting,
)
from antiscalper.rules import CLAIMED, HEADLESS_MARKERS, IP, RULES, Policy, Setting, Verdict


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
