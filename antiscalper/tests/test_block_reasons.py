"""What a blocked shopper is told, in plain words: which of its own identities are listed
and until when, that our checks stopped a purchase and when; never ops' note, a rule's code
or a score (they teach scalpers what to tune), nothing cleared, nothing about anyone else."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from antiscalper import services
from antiscalper.models import Decision, RiskDecision
from antiscalper.selectors import block_reasons


def test_nothing_listed_and_nothing_decided_is_no_reason(customer):
    assert block_reasons(user_id=customer.user_id, device="d-1", ip="10.0.0.1") == []


def test_each_listed_identity_of_the_shopper_is_named_with_its_reason(customer,
                                                                       make_customer):
    services.blacklist_add(kind="account", value=str(customer.user_id),
                           reason="30 units in 2 seconds")
    services.blacklist_add(kind="device", value="d-1", reason="",
                           expires_at=timezone.now() + timedelta(days=2))
    services.blacklist_add(kind="ip", value="10.0.0.9", reason="someone else's network")
    services.blacklist_add(kind="phone", value=customer.phone, reason="a scalper's SIM")
    reasons = block_reasons(user_id=customer.user_id, device="d-1", ip="10.0.0.1")
    assert reasons[0] == "Your account is on our blocklist."
    assert reasons[1].startswith("Your device is on our blocklist until ")
    assert reasons[2] == "Your phone number is on our blocklist."
    assert len(reasons) == 3  # the listed IP is not this shopper's
    assert not any(note in " ".join(reasons) for note in ("30 units", "SIM", "network"))
    other = make_customer()
    assert block_reasons(user_id=other.user_id, device="", ip="") == []


def test_block_decisions_are_told_unless_a_reviewer_cleared_them(customer):
    def decide(reason: str, review: str) -> None:
        RiskDecision.objects.create(sale_id=1, user_id=customer.user_id, decision=Decision.BLOCK,
                                    reason=reason, review_status=review,
                                    created_at=timezone.now())

    decide("score 85 >= 70: device_accounts (40), fast_after_open", RiskDecision.Review.OPEN)
    decide("a mistake", RiskDecision.Review.CLEARED)
    (told,) = block_reasons(user_id=customer.user_id, device="", ip="")
    # Only when, in a shopper's words ("3 Dec 23:40"): no rule, score or figure of the reason
    # (whose "40" the clock may show too, so the whole sentence is matched).
    assert re.fullmatch(r"Our anti-scalper checks stopped a purchase of yours on "
                        r"\d{1,2} [A-Z][a-z]{2}( \d{4})? \d\d:\d\d\.", told), told
    assert not any(word in told for word in ("score", "device_accounts", "fast_after_open"))
