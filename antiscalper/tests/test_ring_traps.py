"""The false-positive traps with every feature that sees rings switched on (realtime and the
linking pass): genuine fans in an office tower, a household of four on one device and one
address, a campus behind one NAT, and an established fan whose details and number block new
accounts took, are never blocked nor cancelled, whatever the ring features say about them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from antiscalper import linking
from antiscalper.models import RiskDecision, RuleSetting
from antiscalper.tests.risk_helpers import (
    age,
    attempt,
    earlier_sale,
    fired,
    judge,
    registered,
    share_address,
)
from shop.models import Order
from shop.services import address_create, order_create

pytestmark = pytest.mark.django_db

NEW_RULES = ("registration_burst", "dormant_account", "device_history", "ip_history")


@pytest.fixture(autouse=True)
def _all_rules_on():
    assert RuleSetting.objects.filter(code__in=NEW_RULES, enabled=True).count() == 4


def _bought_long_ago(customer, sku) -> None:
    order = order_create(user_id=customer.user_id, lines=[(sku.pk, 1)])
    Order.objects.filter(pk=order.pk).update(status="paid",
                                             created_at=timezone.now() - timedelta(days=60))


def _nobody_blocked(accounts) -> list[str]:
    """Run the linking pass; every code that fired on the accounts (the trap must be seen,
    and still not blocked)."""
    assert linking.linking_run(sale_id=1) == []
    ids = [a.user_id for a in accounts]
    assert not RiskDecision.objects.filter(user_id__in=ids, decision="block").exists()
    return sorted({code for d in RiskDecision.objects.filter(user_id__in=ids)
                   for code in d.rule_codes()})


def _burst(accounts, *, days: int) -> None:
    """Registered together (a company event, an orientation day, one evening at home)."""
    at = timezone.now() - timedelta(days=days)
    for n, account in enumerate(accounts):
        registered(account, at + timedelta(seconds=30 * n))


def test_an_office_tower_of_genuine_fans_on_the_company_plan(make_customer, sku):
    """Eight fans who bought there before, registered at one company event, on consecutive
    numbers of the company's plan, behind the office IP others used in earlier sales; two
    new colleagues join them on the same plan and building."""
    staff = [make_customer(phone=f"1381234560{n}", with_address=False) for n in range(10)]
    for n, fan in enumerate(staff):
        share_address(fan, line1=f"Tower A, 1 Century Avenue, {10 + n}F, Room {n + 1}01")
    for fan in staff[:8]:
        _bought_long_ago(fan, sku)
    _burst(staff[:8], days=300)
    earlier_sale(*[make_customer() for _ in range(60)], ip="58.1.1.1")
    judge(*[attempt(f.user_id, ip="58.1.1.1", after_ms=1500 + 700 * n)
            for n, f in enumerate(staff)])
    seen = _nobody_blocked(staff)
    assert {"registration_burst", "ip_history"} <= set(seen)
    assert not RiskDecision.objects.filter(source="linking").exists()


def test_a_household_of_four_on_one_device_and_address(make_customer):
    """Four idle aged accounts registered one evening, a family plan's numbers, one phone
    passed round (a try each, seconds apart), which the family used in earlier sales too."""
    home = [make_customer(phone=f"1397654321{n}", with_address=False) for n in range(4)]
    for member in home:
        share_address(member, line1="12 Home Road, Flat 3")
    _burst(home, days=500)
    earlier_sale(*home, device="family-phone")
    judge(*[attempt(m.user_id, device="family-phone", ip="36.8.8.8", after_ms=12_000 * (n + 1))
            for n, m in enumerate(home)])
    seen = _nobody_blocked(home)
    assert "device_accounts" in seen
    assert set(RiskDecision.objects.filter(source="linking").values_list(
        "decision", flat=True)) <= {"review"}


def test_a_campus_behind_one_nat(make_customer):
    """Thirty idle aged accounts registered on one orientation day, behind the campus NAT
    two hundred accounts used in earlier sales, all at the opening."""
    campus = [make_customer() for _ in range(30)]
    _burst(campus, days=700)
    earlier_sale(*[make_customer() for _ in range(200)], ip="202.120.1.1")
    decisions = judge(*[attempt(s.user_id, ip="202.120.1.1", after_ms=1200 + 150 * n)
                        for n, s in enumerate(campus)])
    seen = _nobody_blocked(campus)
    assert {"registration_burst", "dormant_account", "ip_history",
            "opening_crowd_subnet"} <= set(seen)
    assert max(d.score for d in decisions.values()) < 70
    assert linking.clusters_find(sale_id=1) == []


def test_an_established_fan_whose_building_and_number_block_new_accounts_took(
        make_customer, sku):
    """Five new accounts registered in a burst deliver to the fan's building (other flats)
    and hold numbers next to the fan's: they are a cluster for review; the fan, who bought
    there before, is in no cluster, gets no linking decision and is allowed."""
    fan = make_customer(phone="13512345600", with_address=False)
    share_address(fan, line1="朝阳区建国路88号5号楼1单元101室")
    _bought_long_ago(fan, sku)
    ring = [make_customer(phone=f"1351234560{n}", with_address=False) for n in range(1, 6)]
    for n, account in enumerate(ring):
        share_address(account, line1=f"朝阳区建国路88号5栋{n + 2}单元{n + 3}0{n}室")
    _burst(ring, days=200)
    decisions = judge(*[attempt(a.user_id, ip=f"36.{n}.4.1", after_ms=2000 + 900 * n)
                        for n, a in enumerate([fan, *ring])])
    [cluster] = linking.clusters_find(sale_id=1)
    assert cluster["members"] == sorted(a.user_id for a in ring)
    assert {x["kind"] for x in cluster["links"]} >= {"building", "phone_block"}
    _nobody_blocked([fan, *ring])
    assert not RiskDecision.objects.filter(user_id=fan.user_id, source="linking").exists()
    [fans] = [d for d in decisions.values() if d.user_id == fan.user_id]
    assert fans.decision == "allow" and not {"dormant_account", "registration_burst"} & set(
        fired(fans))


def _flags(accounts) -> dict[int, set[str]]:
    """Every decision the accounts got, realtime and linking, once the linking pass ran."""
    linking.linking_run(sale_id=1)
    found: dict[int, set[str]] = {a.user_id: set() for a in accounts}
    for user_id, decision in RiskDecision.objects.filter(
            user_id__in=list(found)).values_list("user_id", "decision"):
        found[user_id].add(decision)
    return found


def test_an_established_household_is_not_even_reviewed(make_customer, sku):
    """Four customers who bought and received there two months ago share one phone (the
    device), one IP, one address and the address's phone: shared details of established
    customers say nothing against them. No review in realtime, no cluster in linking, yet
    each sharing rule is still named in the decision."""
    home = [make_customer(with_address=False) for _ in range(4)]
    for member in home:
        address_create(customer=member, recipient="Chen family", phone="13912340000",
                       line1="12 Home Road, Flat 3", city="Shanghai", postcode="200001")
        age(member, days=900)
        _bought_long_ago(member, sku)
    decisions = judge(*[attempt(m.user_id, device="family-phone", ip="36.8.8.8",
                                after_ms=1200 + 700 * n) for n, m in enumerate(home)])
    assert {d.decision for d in decisions.values()} == {"allow"}
    assert any("device_accounts" in fired(d) for d in decisions.values())
    assert linking.clusters_find(sale_id=1) == []
    assert _flags(home) == {m.user_id: {"allow"} for m in home}


def test_newcomers_copying_an_established_fans_device_are_flagged_the_fan_is_not(
        make_customer, sku):
    """Six new accounts send the fan's X-Device-Id: they are a cluster (a claimed tie:
    review; realtime may block them on their own evidence, new accounts in a burst), the
    fan is in none, and its own attempt is allowed."""
    fan = make_customer()
    age(fan, days=900)
    _bought_long_ago(fan, sku)
    copiers = [make_customer() for _ in range(6)]
    judge(*[attempt(c.user_id, device="fan-phone", ip=f"36.{n}.2.2", after_ms=900 + 90 * n)
            for n, c in enumerate(copiers)],
          attempt(fan.user_id, device="fan-phone", ip="61.2.2.2", after_ms=2600))
    [cluster] = linking.clusters_find(sale_id=1)
    assert cluster["members"] == sorted(c.user_id for c in copiers)
    flags = _flags([fan, *copiers])
    assert flags[fan.user_id] == {"allow"}
    assert all("review" in flags[c.user_id] for c in copiers)


def test_a_farm_of_accounts_that_each_bought_once_is_no_household(make_customer, sku):
    """Six accounts, each with one order two months old, on one device: more established
    holders than a household has, so the device ties them all (review)."""
    farm = [make_customer() for _ in range(6)]
    for account in farm:
        _bought_long_ago(account, sku)
    judge(*[attempt(a.user_id, device="farm-device", ip=f"36.{n}.3.3", after_ms=700 + 50 * n)
            for n, a in enumerate(farm)])
    [cluster] = linking.clusters_find(sale_id=1)
    assert cluster["members"] == sorted(a.user_id for a in farm)
    assert all("review" in flags for flags in _flags(farm).values())


def test_an_order_placed_days_before_the_sale_does_not_make_an_account_established(
        make_customer, sku):
    """A ring buying a cheap item per account the week before is not sheltered: only an
    order ESTABLISHED_DAYS old or older counts."""
    ring = [make_customer() for _ in range(4)]
    for account in ring:
        order = order_create(user_id=account.user_id, lines=[(sku.pk, 1)])
        Order.objects.filter(pk=order.pk).update(
            status="paid", created_at=timezone.now() - timedelta(days=7))
    judge(*[attempt(a.user_id, device="ring-device", ip=f"36.{n}.4.4", after_ms=700 + 50 * n)
            for n, a in enumerate(ring)])
    [cluster] = linking.clusters_find(sale_id=1)
    assert cluster["members"] == sorted(a.user_id for a in ring)
