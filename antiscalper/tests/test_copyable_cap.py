"""Copied details never block alone (issue 16, point 1): whatever ops set as weights and
thresholds, the rules over copyable details (the identity and device families) and the IP
family together stay below the block score; evidence about the attempt itself must join in."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from antiscalper import rules
from antiscalper.models import Action, Decision

COPYABLE = [code for code, rule in rules.RULES.items() if rule.family in rules.COPYABLE]
IP_RULES = [code for code, rule in rules.RULES.items() if rule.family == rules.IP]
OWN = ["fast_after_open", "robotic_timing", "headless_agent", "account_velocity"]


def _settings(weights: dict[str, float], actions: dict[str, str]) -> dict[str, rules.Setting]:
    return {code: rules.Setting(True, rule.threshold, weights.get(code, rule.weight),
                                actions.get(code, rule.action))
            for code, rule in rules.RULES.items()}


def _firing(codes: list[str]) -> dict[str, float | None]:
    """Values that make exactly these rules fire."""
    values: dict[str, float | None] = dict.fromkeys(rules.RULES)
    for code in codes:
        rule = rules.RULES[code]
        values[code] = rule.threshold - 1 if rule.below else rule.threshold * 10
    return values


weights = st.floats(min_value=0, max_value=500, allow_nan=False)
actions = st.sampled_from([Action.SCORE, Action.REVIEW, Action.BLOCK])


@settings(max_examples=200, deadline=None)
@given(fired=st.lists(st.sampled_from(COPYABLE + IP_RULES), min_size=1, unique=True),
       weight=st.dictionaries(st.sampled_from(COPYABLE + IP_RULES), weights),
       action=st.dictionaries(st.sampled_from(COPYABLE + IP_RULES), actions),
       block_score=st.floats(min_value=2, max_value=300), review_score=st.floats(1, 2))
def test_copyable_details_and_an_ip_never_block_whatever_their_weights(
        fired, weight, action, block_score, review_score):
    policy = rules.Policy(review_score=review_score, block_score=block_score)
    verdict = rules.decide(values=_firing(fired), settings=_settings(weight, action),
                           policy=policy)
    assert verdict.decision != Decision.BLOCK
    assert verdict.score < block_score


def test_a_household_on_one_device_and_address_is_reviewed_not_blocked():
    """What the replay's household got before the cap: 110 points of device and identity
    rules, a block."""
    household = ["reservation_burst_device", "shared_phone", "device_accounts",
                 "opening_crowd_device"]
    verdict = rules.decide(values=_firing(household), settings=_settings({}, {}),
                           policy=rules.Policy())
    assert verdict.decision == Decision.REVIEW
    assert verdict.score == rules.Policy().block_score - 1
    assert [f["code"] for f in verdict.fired] == household  # each still named


def test_evidence_about_the_attempt_itself_still_blocks_beside_copied_details():
    verdict = rules.decide(values=_firing(["device_accounts", "shared_address", *OWN[:2]]),
                           settings=_settings({}, {}), policy=rules.Policy())
    assert verdict.decision == Decision.BLOCK


def test_the_frozen_comparison_can_switch_the_cap_off(monkeypatch):
    monkeypatch.setattr(rules, "COPYABLE_CAPPED", False)
    verdict = rules.decide(values=_firing(COPYABLE), settings=_settings({}, {}),
                           policy=rules.Policy())
    assert verdict.decision == Decision.BLOCK
