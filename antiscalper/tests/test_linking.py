"""Linking: clusters of accounts tied by rare identifiers; a shared NAT ties no one."""

from __future__ import annotations

import pytest

from antiscalper import holders, linking, rules, services, tasks
from antiscalper.attempts import Keys
from antiscalper.models import AllowlistEntry, RiskDecision, RuleSetting
from antiscalper.selectors import block_reasons
from antiscalper.tests.risk_helpers import age, attempt, fired, judge, pay_with, share_address
from shop.models import Order
from shop.services import order_create

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


@pytest.fixture
def ring(make_customer, sku):
    """One drop address and one card (charged for each, earlier) tie five old accounts;
    only the first got stock."""
    accounts = [make_customer() for _ in range(5)]
    for n, account in enumerate(accounts):
        age(account, days=300 + n)
        share_address(account, line1="9 Drop Street")
        pay_with(account, sku, "card-ring")
    judge(attempt(accounts[0].user_id, ip="36.0.1.1", after_ms=3000),
          *[attempt(a.user_id, ip=f"36.{n}.1.1", after_ms=3000 + 900 * n, verdict="sold_out")
            for n, a in enumerate(accounts[1:], start=1)])
    return accounts


def _linking_decisions() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for user_id, decision in RiskDecision.objects.filter(source="linking").order_by("pk") \
            .values_list("user_id", "decision"):
        found.setdefault(user_id, []).append(decision)
    return found


def test_ring_members_who_lost_the_race_are_flagged_for_review_with_the_one_who_won(ring):
    """Linking buyers alone would see a cluster of one and flag nobody. The losers are the
    ring's accounts too, but with nothing to cancel their decision is a lead for ops
    (review), not a block nobody looked at; only the buyer is blocked and cancelled."""
    assert linking.linking_run(sale_id=1) == [ring[0].user_id]
    assert _linking_decisions() == {ring[0].user_id: ["block"],
                                    **{a.user_id: ["review"] for a in ring[1:]}}
    loser = RiskDecision.objects.get(source="linking", user_id=ring[1].user_id)
    assert "bought nothing" in loser.reason and loser.rules[0]["value"] == 5


def test_the_losers_cluster_size_reaches_the_realtime_rule(ring, redis_client):
    linking.linking_run(sale_id=1)
    assert redis_client.hget(Keys(1).clusters, ring[3].user_id) == b"5"


def test_an_order_of_the_sale_makes_a_member_a_buyer(ring, sku):
    """The gate's admitted attempt may not have reached the signals yet; the order has."""
    order = order_create(user_id=ring[1].user_id, lines=[(sku.pk, 1)])
    Order.objects.filter(pk=order.pk).update(sale_id=1)
    assert linking.linking_run(sale_id=1) == sorted([ring[0].user_id, ring[1].user_id])
    assert _linking_decisions()[ring[1].user_id] == ["block"]


def test_with_the_rule_set_to_review_buyers_and_losers_are_both_reviewed(ring):
    rule = rules.settings_load()["linked_cluster"]
    RuleSetting.objects.update_or_create(code="linked_cluster", defaults={
        "threshold": rule.threshold, "weight": 10, "action": "review"})
    assert linking.linking_run(sale_id=1) == []
    assert set(RiskDecision.objects.filter(source="linking")
               .values_list("decision", flat=True)) == {"review"}


def test_a_decision_is_never_weakened_and_grows_when_the_allowlist_lapses(ring, make_customer,
                                                                         sku):
    """Block stays block once ops allowlist the buyer (nothing new, nothing cancelled); a
    member cleared while allowlisted is reviewed like the others once the entry is gone."""
    linking.linking_run(sale_id=1)
    services.allowlist_add(kind="account", value=str(ring[0].user_id))
    assert linking.linking_run(sale_id=1) == []
    assert _linking_decisions()[ring[0].user_id] == ["block"]

    newcomer = make_customer()  # a sixth account at the drop address, tried and lost
    share_address(newcomer, line1="9 Drop Street")
    pay_with(newcomer, sku, "card-ring")
    judge(attempt(newcomer.user_id, ip="36.9.1.1", after_ms=8000, verdict="sold_out"))
    entry, _ = services.allowlist_add(kind="account", value=str(newcomer.user_id))
    linking.linking_run(sale_id=1)
    assert _linking_decisions()[newcomer.user_id] == ["allow"]
    AllowlistEntry.objects.filter(pk=entry.pk).update(is_active=False)
    linking.linking_run(sale_id=1)
    assert _linking_decisions()[newcomer.user_id] == ["allow", "review"]



def test_a_reviewed_member_who_buys_later_is_blocked_on_the_next_run(ring):
    linking.linking_run(sale_id=1)
    judge(attempt(ring[2].user_id, ip="36.2.1.1", after_ms=60_000))  # the second rush
    assert linking.linking_run(sale_id=1) == sorted([ring[0].user_id, ring[2].user_id])
    assert _linking_decisions()[ring[2].user_id] == ["review", "block"]
    linking.linking_run(sale_id=1)
    assert RiskDecision.objects.filter(source="linking").count() == 6


def test_a_household_of_four_that_bought_nothing_is_only_reviewed(make_customer):
    """Four fans at one address pass the cluster threshold by trying: nobody is blocked,
    cancelled or told a purchase was stopped (block_reasons reads only blocks)."""
    home = [make_customer() for _ in range(4)]
    for member in home:
        share_address(member, line1="12 Home Road")
    judge(*[attempt(m.user_id, after_ms=2000 + 800 * n, verdict="sold_out")
            for n, m in enumerate(home)])
    assert linking.linking_run(sale_id=1) == []
    assert set(RiskDecision.objects.filter(source="linking")
               .values_list("decision", flat=True)) == {"review"}
    assert block_reasons(user_id=home[0].user_id, device="", ip="") == []


def test_participants_and_identifiers_are_read_in_slices_with_the_same_clusters(
        make_customer, monkeypatch):
    """Big sales have more participants than one IN list may hold (SQLite's parameter cap).
    Sliced, every query stays small and every identifier still gets its store-wide count: a
    lost count would make a common address look rare and link the mailroom."""
    from django.db import connection

    from shop.services import address_create

    monkeypatch.setattr(linking, "RARE_AT", 4)
    mailroom = [make_customer(with_address=False) for _ in range(6)]  # 6 hold it, 4 take part
    for student in mailroom:
        share_address(student, line1="1 University Mailroom")
    flat = [make_customer(with_address=False) for _ in range(3)]  # one phone on 3 addresses
    for n, mate in enumerate(flat):
        address_create(customer=mate, recipient="R", phone="13912345678",
                       line1=f"{n} Flat Street", city="Shenzhen", postcode="518000")
    others = [make_customer() for _ in range(5)]
    judge(*[attempt(c.user_id, after_ms=2000 + 300 * n, verdict="sold_out")
            for n, c in enumerate(mailroom[:4] + flat + others)])
    whole = linking.clusters_find(sale_id=1)
    assert [c["members"] for c in whole] == [sorted(m.user_id for m in flat)]  # no mailroom
    links = {x["kind"]: (x["accounts"], x["strength"]) for x in whole[0]["links"]}
    assert links["phone"] == (3, 0.9) and "address" not in links
    assert links["subnet"][0] == 3  # the cluster's own holders of a 12-account subnet

    sizes: list[int] = []

    def count_parameters(execute, sql, params, many, context):
        sizes.append(len(params or ()))
        return execute(sql, params, many, context)

    monkeypatch.setattr(holders, "IN_SLICE", 2)
    with connection.execute_wrapper(count_parameters):
        assert linking.clusters_find(sale_id=1) == whole
    assert sizes and max(sizes) <= 2 + 2  # a slice, and a query's own one or two parameters


def test_one_pass_per_sale_at_a_time(redis_client, ring):
    """A pass still running (a big sale's can outlast beat's minute) holds the sale: a second
    one stores and cancels nothing, so no decision is written twice."""
    held = redis_client.lock(f"{Keys(1).clusters}:linking", timeout=30)
    assert held.acquire(blocking=False)
    assert linking.linking_run(sale_id=1) == []
    assert not RiskDecision.objects.filter(source="linking").exists()
    held.release()
    assert linking.linking_run(sale_id=1) == [ring[0].user_id]


def _bought_long_ago(customer, sku) -> None:
    """A genuine customer: a paid order more than a month before the sale (established)."""
    from datetime import timedelta

    from django.utils import timezone

    order = order_create(user_id=customer.user_id, lines=[(sku.pk, 1)])
    Order.objects.filter(pk=order.pk).update(status="paid",
                                             created_at=timezone.now() - timedelta(days=40))


SPELLINGS = ["朝阳区建国路88号5号楼2单元301室", "朝阳区 建国路 88号 5栋 1203",
             "朝阳区建国路88号5幢12层", "朝阳区建国路88号5号楼 三单元 502室",
             "朝阳区建国路88号5栋 7层 701房"]


def test_a_ring_writing_one_drop_building_differently_is_one_cluster_for_review(make_customer):
    """Five accounts, each with its own device, phone and IP, deliver to one building under
    five spellings and five flats: the building ties them, for a person to look at (it is
    claimed: anyone can type it), and the explanation names the building."""
    ring = [make_customer(with_address=False) for _ in SPELLINGS]
    for account, line1 in zip(ring, SPELLINGS, strict=True):
        share_address(account, line1=line1)
    judge(*[attempt(a.user_id, ip=f"36.{n}.9.1", after_ms=2000 + 900 * n)
            for n, a in enumerate(ring)])
    [cluster] = linking.clusters_find(sale_id=1)
    assert cluster["members"] == sorted(a.user_id for a in ring)
    assert [(x["kind"], x["accounts"]) for x in cluster["links"] if x["kind"] != "subnet"] == [
        ("building", 5)]
    assert set(cluster["proven"].values()) == {1}  # claimed: review, never block by itself


def test_an_office_tower_where_genuine_fans_work_ties_no_one(make_customer, sku):
    """The same building, but its accounts bought there long before the sale: a tower's
    genuine population, not a drop; no cluster."""
    tower = [make_customer(with_address=False) for _ in range(6)]
    for n, account in enumerate(tower):
        share_address(account, line1=f"Tower A, 1 Century Avenue, {10 + n}F, Room {n + 1}01")
        _bought_long_ago(account, sku)
    judge(*[attempt(a.user_id, ip=f"36.{n}.8.1", after_ms=2000 + 900 * n)
            for n, a in enumerate(tower)])
    assert linking.clusters_find(sale_id=1) == []


def test_accounts_sharing_one_exact_address_are_not_tied_twice_by_its_building(stealth):
    [cluster] = linking.clusters_find(sale_id=1)
    assert "building" not in {x["kind"] for x in cluster["links"]}


def test_a_genuine_customer_of_the_drop_building_is_not_tied_to_the_ring(make_customer, sku):
    """New accounts using an established customer's building never pull it into their
    cluster: the building ties only those who had not bought there before the sale."""
    neighbour = make_customer(with_address=False)
    share_address(neighbour, line1="朝阳区建国路88号5号楼1单元101室")
    _bought_long_ago(neighbour, sku)
    ring = [make_customer(with_address=False) for _ in SPELLINGS]
    for account, line1 in zip(ring, SPELLINGS, strict=True):
        share_address(account, line1=line1)
    judge(*[attempt(a.user_id, ip=f"36.{n}.7.1", after_ms=2000 + 900 * n)
            for n, a in enumerate([neighbour, *ring])])
    [cluster] = linking.clusters_find(sale_id=1)
    assert cluster["members"] == sorted(a.user_id for a in ring)

