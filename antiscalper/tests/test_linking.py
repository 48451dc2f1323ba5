"""Linking: clusters of accounts tied by rare identifiers; a shared NAT ties no one."""

from __future__ import annotations

import pytest

from antiscalper import linking, services, tasks
from antiscalper.models import RiskDecision
from antiscalper.signals import Keys
from antiscalper.tests.risk_helpers import age, attempt, fired, judge, pay_with, share_address

pytestmark = pytest.mark.django_db


@pytest.fixture
def stealth(make_customer, sku):
    """Five old accounts, own devices and IPs, human timing; one drop address and one card."""
    accounts = [make_customer() for _ in range(5)]
    for n, account in enumerate(accounts):
        age(account, days=300 + n)
        share_address(account, line1="17 Quiet Street")
        pay_with(account, sku, "card-7777")
    judge(*[attempt(a.user_id, ip=f"36.{n}.1.1", after_ms=3000 + 1700 * n)
            for n, a in enumerate(accounts)])
    return accounts


def test_a_stealth_cluster_linked_only_by_address_and_card_is_caught(stealth):
    ids = sorted(a.user_id for a in stealth)
    assert linking.linking_run(sale_id=1) == ids
    decisions = RiskDecision.objects.filter(source="linking")
    assert sorted(d.user_id for d in decisions) == ids
    rule = decisions[0].rules[0]
    assert (decisions[0].decision, rule["code"], rule["value"]) == ("block", "linked_cluster", 5)
    assert {link["kind"] for link in rule["details"]["links"]} >= {"address", "payment"}
    assert rule["details"]["members"] == ids


def test_running_linking_again_adds_no_duplicate_decisions(stealth):
    linking.linking_run(sale_id=1)
    assert len(linking.linking_run(sale_id=1)) == 5
    assert RiskDecision.objects.filter(source="linking").count() == 5


def test_an_allowlisted_member_is_not_cancelled_and_its_decision_says_why(stealth):
    services.allowlist_add(kind="account", value=str(stealth[0].user_id))
    assert stealth[0].user_id not in linking.linking_run(sale_id=1)
    cleared = RiskDecision.objects.get(source="linking", user_id=stealth[0].user_id)
    assert cleared.decision == "allow" and "allowlisted" in cleared.reason


def test_after_linking_the_realtime_rule_sees_the_cluster(stealth, redis_client):
    linking.linking_run(sale_id=1)
    assert redis_client.hget(Keys(1).clusters, stealth[0].user_id) == b"5"
    (decision,) = judge(attempt(stealth[0].user_id, after_ms=90_000)).values()
    assert fired(decision)["linked_cluster"] == 5


def test_campus_fans_sharing_one_nat_are_not_linked(make_customer):
    fans = [make_customer() for _ in range(20)]
    judge(*[attempt(f.user_id, ip="202.120.1.1", after_ms=1500 + 200 * n)
            for n, f in enumerate(fans)])
    assert linking.linking_run(sale_id=1) == []
    assert linking.clusters_find(sale_id=1) == []
    assert not RiskDecision.objects.filter(source="linking").exists()


def test_a_family_of_two_sharing_address_and_card_is_not_a_scalper_cluster(make_customer, sku):
    family = [make_customer() for _ in range(2)]
    for member in family:
        share_address(member, line1="5 Family Road")
        pay_with(member, sku, "card-home")
    judge(*[attempt(m.user_id, after_ms=2000 + 900 * n) for n, m in enumerate(family)])
    assert [c["size"] for c in linking.clusters_find(sale_id=1)] == [2]
    assert linking.linking_run(sale_id=1) == []


def test_a_common_identifier_does_not_link(make_customer, monkeypatch):
    monkeypatch.setattr(linking, "RARE_AT", 4)  # an address six accounts hold is common now
    mailroom = [make_customer() for _ in range(6)]
    for student in mailroom:
        share_address(student, line1="1 University Mailroom")
    judge(*[attempt(s.user_id, after_ms=2000 + 700 * n) for n, s in enumerate(mailroom)])
    assert linking.clusters_find(sale_id=1) == []


def test_the_celery_task_returns_the_accounts_to_cancel(stealth):
    assert tasks.risk_linking_run.apply(args=[1]).get() == sorted(a.user_id for a in stealth)


def test_ring_members_who_lost_the_race_are_linked_with_the_one_who_won(make_customer):
    """One drop address ties a ring of five; only one of them got stock. Linking buyers alone
    would see a cluster of one and flag nobody; the losers are the ring's accounts too."""
    ring = [make_customer() for _ in range(5)]
    for n, account in enumerate(ring):
        age(account, days=300 + n)
        share_address(account, line1="9 Drop Street")
    judge(attempt(ring[0].user_id, ip="36.0.1.1", after_ms=3000),
          *[attempt(a.user_id, ip=f"36.{n}.1.1", after_ms=3000 + 900 * n, verdict="sold_out")
            for n, a in enumerate(ring[1:], start=1)])
    ids = sorted(a.user_id for a in ring)
    assert linking.linking_run(sale_id=1) == ids
    assert sorted(RiskDecision.objects.filter(source="linking", decision="block")
                  .values_list("user_id", flat=True)) == ids


def test_refused_campus_fans_behind_one_nat_are_still_not_linked(make_customer):
    fans = [make_customer() for _ in range(12)]
    judge(*[attempt(f.user_id, ip="202.120.1.1", after_ms=1500 + 200 * n, verdict="sold_out")
            for n, f in enumerate(fans)])
    assert linking.clusters_find(sale_id=1) == []


def test_participants_are_read_in_slices_with_the_same_clusters(stealth, make_customer,
                                                                monkeypatch):
    """Big sales have more participants than one IN list may hold (SQLite's parameter cap)."""
    judge(*[attempt(make_customer().user_id, after_ms=5000 + n, verdict="sold_out")
            for n in range(5)])
    whole = linking.clusters_find(sale_id=1)
    monkeypatch.setattr(linking, "IN_SLICE", 2)
    assert linking.clusters_find(sale_id=1) == whole
    assert [c["size"] for c in whole] == [5]
    assert {link["kind"] for link in whole[0]["links"]} >= {"address", "payment"}
