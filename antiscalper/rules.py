"""The rule catalogue: what each rule means (code) and its defaults (data, edited in admin).

A rule turns one measured value about an attempt into "fired" or not: it fires when the
value reaches its threshold (`value >= threshold`), or, for the rules marked `below`, when
the value is under it (`value < threshold`). A rule with no value (no device, no address,
no history) does not fire. The values are measured by antiscalper.risk (realtime, Redis
plus a few batched queries) and antiscalper.linking (the Celery pass).

Scoring: every enabled rule that fires adds its weight to the score; its action may also
force the decision ("review": at least review, "block": block). Then
`score >= block_score` blocks and `score >= review_score` flags for review (RiskPolicy,
defaults 70 and 40). An allowlisted account is always allowed, with the reason recorded.

Why an IP alone never blocks: genuine fans sit behind one campus or carrier NAT, so every
rule that looks only at the IP or its /24 (/64) subnet belongs to the "ip" family, and
- the family's actions are ignored (always "score"): an IP rule cannot force a decision;
- the family adds at most `min(ip_cap, block_score - 1)` points together. With the
  defaults the three IP rules weigh 10 + 10 + 10 = 30, the cap is 30, and
  30 < review_score 40 < block_score 70: a campus crowd is not even flagged, and no
  edit of weights can make the IP family alone reach the block score.
Only when other evidence (a shared device, a headless browser, a new account) joins in can
the total reach review or block.

Why copies of a fan's details do not count against the fan: a delivery address, an
address-book phone, a payment instrument string and a device id header are claimed, not
proven; three throwaway accounts can copy a fan's. So a shared phone or address is not
counted against its established holder (the phone's registered account, the address's first
account: antiscalper.risk.Facts), only against the accounts that copied it; and the rules
over such details (the "identity" and "device" families, CLAIMED) can force review at most,
never block, whatever ops set as their action. Their weights count in the score, but with
the IP family's they add at most `block_score - 1` points: copied details and an IP, however
many fire, can bring an attempt to review and never to a block. Nor do copied details carry
an attempt across the block line that its own evidence (timing, the client, the account's
age and history, a list, proven links) and its IP have not reached: they lift it to just
below at most. So throwaway accounts sending a shopper's X-Device-Id can get the shopper
reviewed, never blocked, however new the shopper's account is; a household of four on one
device and one address is at most reviewed.

An established customer (antiscalper.established: it bought, long before the sale) is
sheltered further: its copyable details and IP add at most `review_score - 1` and force
nothing, so a household sharing one device, or a fan whose device id newcomers copied, is
not even reviewed for it; its own behaviour still counts in full.

Why a ring feature never blocks: a registration burst or an aged account idle until the hot
sale (the "ring" family, antiscalper.lookback) describes many genuine fans too (a launch
brings sign-ups in waves; fans come back for the phone they waited for). So the family's
actions force review at most, it adds at most `block_score - 1 - ip_limit` points (39 with
the defaults), and it lifts a score to just below the block score at most: it can bring an
attempt other evidence made suspect to review, never across the block line, and each ring
feature that fires is named in the decision.

Linking (connected accounts) is scored in antiscalper.linking; its rule `linked_cluster`
also feeds back into realtime once a linking pass has run for the sale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext_lazy as _

from antiscalper.models import Action, Decision, RiskPolicy, RuleSetting

IP = "ip"
RING = "ring"  # features that only support other evidence (see above)
CLAIMED = ("identity", "device", RING)  # rules that force review at most (see above)
COPYABLE = ("identity", "device")  # their points capped together (see above)
COPY = "copy"
# The frozen comparison with the scoring before issue 16 (loadtests/risk_before, the parity
# test and the risk bench's "rules of before") switches the cap off; nothing else does. With
# it off, a device's wrong F-codes count as the account's again, as they did then (the larger
# of the two in `fcode_guessing`).
COPYABLE_CAPPED = True


@dataclass(frozen=True)
class Rule:
    code: str
    family: str
    threshold: float
    weight: float
    action: str
    intent: str  # what the rule measures, as ops read it (lazily translated)
    below: bool = False

    def fires(self, value: float | None, threshold: float) -> bool:
        if value is None:
            return False
        return value < threshold if self.below else value >= threshold


RULES: dict[str, Rule] = {rule.code: rule for rule in [
    Rule("new_account", "account", 7, 15, Action.SCORE, below=True, intent=_(
        "Account age in days at the attempt; fleets register accounts just before a sale.")),
    Rule("reservation_burst_device", "device", 3, 25, Action.SCORE, intent=_(
        "Accounts that reserved this sale from this device; one phone reserves for one.")),
    Rule("reservation_burst_ip", IP, 30, 10, Action.SCORE, intent=_(
        "Accounts reserving from this IP within a minute of this account's reservation.")),
    Rule("fast_after_open", "timing", 250, 25, Action.SCORE, below=True, intent=_(
        "Milliseconds from the opening to the attempt; a human needs more than 250 ms to "
        "see the button turn live and press it.")),
    Rule("robotic_timing", "timing", 0.15, 20, Action.SCORE, below=True, intent=_(
        "Coefficient of variation of the gaps between the account's last attempts (at "
        "least 5 attempts); scripts retry on a metronome, people do not.")),
    Rule("account_velocity", "account", 8, 20, Action.SCORE, intent=_(
        "The account's attempts in the 10 seconds up to this one.")),
    Rule("ip_velocity", IP, 300, 10, Action.SCORE, intent=_(
        "Attempts from this IP in the same 10-second bucket.")),
    Rule("shared_address", "identity", 3, 25, Action.SCORE, intent=_(
        "Accounts that hold this delivery address (normalised); households are 1-2.")),
    Rule("shared_phone", "identity", 3, 25, Action.SCORE, intent=_(
        "Accounts using this phone as their own or on an address.")),
    Rule("shared_payment", "identity", 3, 30, Action.SCORE, intent=_(
        "Accounts that paid with this payment instrument.")),
    Rule("device_accounts", "device", 3, 35, Action.SCORE, intent=_(
        "Accounts seen on this device in this sale.")),
    Rule("opening_crowd_device", "device", 2, 25, Action.SCORE, intent=_(
        "Accounts on this device within 10 s of the opening.")),
    Rule("opening_crowd_subnet", IP, 20, 10, Action.SCORE, intent=_(
        "Accounts on this /24 (/64) subnet within 10 s of the opening; a campus NAT does "
        "this too, which is why it is an IP rule.")),
    Rule("linked_cluster", "linking", 4, 40, Action.BLOCK, intent=_(
        "Size of the account's cluster (accounts linked by device, phone, address or "
        "payment; rare identifiers link, common ones do not). Realtime adds the weight; "
        "the linking pass applies the action.")),
    Rule("headless_agent", "client", 1, 45, Action.SCORE, intent=_(
        "Automation markers in the user agent or client hints (HeadlessChrome, "
        "PhantomJS, python-requests, curl, ...).")),
    Rule("client_headers", "client", 2, 15, Action.SCORE, intent=_(
        "Missing or inconsistent client headers (no Accept, no Accept-Language, no user "
        "agent, no device id, Chrome without sec-ch-ua or sec-ch-ua without Chromium).")),
    Rule("resale_history", "history", 6, 20, Action.SCORE, intent=_(
        "Flash sales the account bought in (paid, shipped, delivered) in 180 days.")),
    Rule("hoarding", "history", 3, 20, Action.SCORE, intent=_(
        "Orders the account let expire unpaid or whose deposit it forfeited in 180 days.")),
    Rule("fcode_guessing", "account", 5, 30, Action.SCORE, intent=_(
        "Wrong F-codes entered in this sale by the account.")),
    Rule("fcode_guessing_device", "device", 5, 30, Action.SCORE, intent=_(
        "Wrong F-codes entered in this sale from this device, by any account; a device id "
        "is sent by the client and can be copied, so these are the device's points, "
        "capped with the other copyable details, never the account's.")),
    Rule("registration_burst", RING, 5, 15, Action.SCORE, intent=_(
        "Admitted accounts of this sale (this one too) registered within 2 minutes of this "
        "account; a ring registers its accounts in a batch.")),
    Rule("dormant_account", RING, 180, 15, Action.SCORE, intent=_(
        "Age in days of an account with no history before this sale (no order, no attempt "
        "in another sale); rings age accounts and keep them idle until a hot sale.")),
    Rule("device_history", "device", 5, 20, Action.SCORE, intent=_(
        "Accounts seen on this device in other sales within 180 days; a household shares "
        "one device among a few.")),
    Rule("ip_history", IP, 50, 10, Action.SCORE, intent=_(
        "Accounts seen on this IP in other sales within 180 days; a campus NAT does this "
        "too, which is why it is an IP rule.")),
    Rule("blacklisted", "list", 1, 100, Action.BLOCK, intent=_(
        "Identities of the attempt (account, device, IP, phone, address, payment) live on "
        "the blacklist mirror and not allowlisted.")),
]}

HEADLESS_MARKERS = ("headlesschrome", "phantomjs", "python-requests", "python-urllib",
                    "aiohttp", "curl/", "wget/", "go-http-client", "selenium", "puppeteer",
                    "playwright", "scrapy", "httpclient", "java/")


@dataclass(frozen=True)
class Setting:
    enabled: bool
    threshold: float
    weight: float
    action: str


@dataclass(frozen=True)
class Policy:
    review_score: float = 40
    block_score: float = 70
    ip_cap: float = 30

    @property
    def ip_limit(self) -> float:
        """What the IP family may add: its cap, and always less than the block score."""
        return max(0.0, min(self.ip_cap, self.block_score - 1))


@dataclass
class Verdict:
    score: float
    decision: str
    reason: str
    fired: list[dict[str, Any]] = field(default_factory=list)


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
    headless, missing = _markers(user_agent or "", headers.get("sec-ch-ua", ""),
                                 bool(headers.get("accept")),
                                 bool(headers.get("accept-language")), bool(device))
    return list(headless), list(missing)


@lru_cache(maxsize=4096)
def _markers(user_agent: str, hints: str, accept: bool, language: bool, device: bool,
             ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Most of a rush's requests come from a few clients: their markers are found once."""
    agent, hints = user_agent.lower(), hints.lower()
    headless = [m for m in HEADLESS_MARKERS if m in agent]
    if "headless" in hints:
        headless.append("sec-ch-ua:headless")
    missing = [name for name, present in (("accept", accept), ("accept-language", language))
               if not present]
    if not agent:
        missing.append("user-agent")
    if not device:
        missing.append("x-device-id")
    chromium = "chrome/" in agent or "chromium/" in agent
    if chromium and not hints:
        missing.append("chrome-without-sec-ch-ua")
    if hints and not chromium:
        missing.append("sec-ch-ua-without-chromium")
    return tuple(headless), tuple(missing)


class Scorer:
    """The rules with their settings and the policy, compiled once for a batch of attempts:
    per rule, whether it is on, how it compares, and the action it may force (an IP rule
    never forces; a claimed detail forces review at most)."""

    def __init__(self, settings: dict[str, Setting], policy: Policy) -> None:
        self.policy, self.ip_limit = policy, policy.ip_limit
        # What the ring family may add (and it never crosses the block score: decide).
        self.ring_limit = max(0.0, policy.block_score - 1 - policy.ip_limit)
        # What the copyable details and the IP family may add together: below blocking.
        self.copyable_limit = (max(0.0, policy.block_score - 1) if COPYABLE_CAPPED
                               else float("inf"))
        self.rules: dict[str, tuple] = {}
        for code, setting in settings.items():
            rule = RULES[code]
            action = Action.SCORE if rule.family == IP else setting.action
            if rule.family in CLAIMED and action == Action.BLOCK:
                action = Action.REVIEW  # a copied detail can flag, never block
            self.rules[code] = (setting.enabled, rule.below, setting.threshold,
                                setting.weight, action, str(action),
                                IP if rule.family == IP else RING if rule.family == RING
                                else COPY if rule.family in COPYABLE else "")

    def decide(self, values: dict[str, float | None], *, allowlisted: bool = False,
               details: dict[str, Any] | None = None, established: bool = False) -> Verdict:
        """Fire the rules over measured values, score them and decide, with the reasons.
        `established`: the account is an established customer (antiscalper.established):
        its copyable details and IP stay below the review score and force nothing."""
        details = details or {}
        sheltered = established and COPYABLE_CAPPED
        copyable_limit = (min(self.copyable_limit, self.policy.review_score - 1) if sheltered
                          else self.copyable_limit)
        fired, score, ip_points, ring_points, copy_points = [], 0.0, 0.0, 0.0, 0.0
        forced: dict[str, str] = {}  # action -> the first rule that forced it
        for code, value in values.items():
            enabled, below, threshold, weight, action, named, capped = self.rules[code]
            if not enabled or value is None or not (value < threshold if below
                                                    else value >= threshold):
                continue
            entry = {"code": code, "value": round(float(value), 3), "threshold": threshold,
                     "weight": weight, "action": named}
            if code in details:
                entry["details"] = details[code]
            fired.append(entry)
            if capped == IP:
                ip_points += weight
            elif capped == RING:
                ring_points += weight
            elif capped == COPY:
                copy_points += weight
            else:
                score += weight
            if action != Action.SCORE and not (sheltered and capped == COPY):
                forced.setdefault(action, code)
        ip_points = min(ip_points, self.ip_limit, copyable_limit)
        copy_points = min(copy_points, max(0.0, copyable_limit - ip_points))
        score += ip_points
        if COPYABLE_CAPPED and score < self.policy.block_score:
            # Copied details never carry an attempt across the block line: its own evidence
            # must reach it (they still lift it to review).
            copy_points = min(copy_points, max(0.0, self.policy.block_score - 1 - score))
        score += copy_points
        if ring_points:  # they lift the score, up to just below the block score at most
            lifted = score + min(ring_points, self.ring_limit)
            score = lifted if score >= self.policy.block_score else min(
                lifted, max(score, self.policy.block_score - 1))
        return _verdict(score, fired, forced, self.policy, allowlisted)


def _verdict(score: float, fired: list, forced: dict, policy: Policy, allowlisted: bool,
             ) -> Verdict:
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


def decide(*, values: dict[str, float | None], settings: dict[str, Setting], policy: Policy,
           allowlisted: bool = False, details: dict[str, Any] | None = None,
           established: bool = False) -> Verdict:
    """Fire the rules over measured values, score them and decide, with the reasons."""
    return Scorer(settings, policy).decide(values, allowlisted=allowlisted, details=details,
                                           established=established)
