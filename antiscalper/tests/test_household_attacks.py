"""An outside reviewer's attacks on the ops API for ring cases, the replay's ops desk, issued
device ids, the household shelter and the block line (issue 16): a household on the family
browser, a household reviewed in its first sale, a copied customer's shelter taken by one
established copier, the desk blocking a copied customer or a new family, a signed device id
shown whole, one established account per farm browser, two households tied by a card. Each
failed before its fix; none mocks anything (real database, real Redis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from antiscalper import linking
from antiscalper.models import BlacklistEntry, RingCase, RiskDecision
from antiscalper.tests.risk_helpers import (
    BLACKLIST_ADD,
    CASES_ACT,
    CASES_VIEW,
    T0,
    age,
    attempt,
    bought_before,
    case_path,
    earlier_sale,
    fired,
    judge,
    pay_with,
    registered,
    share_address,
    staff_client,
)
from core.devices import device_issue
from loadtests.double11.ops_desk import answer_for
from shop.models import Order
from shop.services import order_create

pytestmark = pytest.mark.django_db

VIEW, ACT, LIST = CASES_VIEW, CASES_ACT, BLACKLIST_ADD


def _burst(accounts, *, days: int) -> None:
    """Registered together (one evening at home)."""
    at = timezone.now() - timedelta(days=days)
    for n, account in enumerate(accounts):
        registered(account, at + timedelta(seconds=30 * n))


def _bought_in_sale(accounts, sku, sale_id: int = 1) -> None:
    """Each account holds an order of the sale (it won a unit): linking may block it."""
    for account in accounts:
        order = order_create(user_id=account.user_id, lines=[(sku.pk, 1)])
        Order.objects.filter(pk=order.pk).update(sale_id=sale_id)


def _linking_decisions(sale_id: int = 1) -> dict[int, str]:
    return dict(RiskDecision.objects.filter(sale_id=sale_id, source="linking")
                .values_list("user_id", "decision"))


# --- e1701fd: the ops API shows a verified device id in full --------------------------------


def test_the_ops_api_never_shows_an_issued_device_id_in_full(make_customer):
    """core.devices: an issued device id is a bearer secret. It is verified *because* it is
    kept in an HttpOnly cookie nobody else can read ("another shopper's page scripts cannot
    read it"), and 223cd89 makes anyone presenting it (as the cookie or as X-Device-Id)
    proven-tied to its holders: a fan first seen on a browser in this sale is blocked with
    any three accounts that send the same value (first_owns=False). The case API
    (`links[].value`, and each member's linking decision's `rules[].details.links`) and
    `GET /api/v1/ops/flags` show that value in full, signature and all, to any staff holding
    only a view right: a credential that ties (and can get a fan blocked) is handed to
    readers, where a card is shown by its fingerprint's prefix only. Expected: the issued id
    is shown as a prefix like a card, never the verifiable value."""
    browser = device_issue()
    farm = [make_customer() for _ in range(5)]
    for n, account in enumerate(farm):
        age(account, days=300 + n)
    judge(*[attempt(a.user_id, device=browser, ip=f"36.{n}.8.8", after_ms=2500 + 900 * n)
            for n, a in enumerate(farm)])
    linking.linking_run(sale_id=1)
    (case,) = RingCase.objects.all()
    assert any(link["kind"] == "issued_device" for link in case.links)
    reader = staff_client(VIEW)
    shown = (reader.get(case_path(case)).content.decode()
             + reader.get(f"/api/v1/ops/sales/{case.sale_id}/cases").content.decode()
             + staff_client("view_riskdecision").get("/api/v1/ops/flags").content.decode())
    assert browser not in shown


# --- 223cd89 (a): the issue's household trap on the browser the store issued ---------------


def test_the_household_trap_on_the_family_browser_the_store_issued_is_not_cancelled(
        make_customer, sku):
    """The project's own trap (test_ring_traps.test_a_household_of_four_on_one_device_and_
    address: four aged accounts registered one evening, a family plan's numbers, one address,
    one phone passed round, used in earlier sales too), but on what a real storefront browser
    sends since 223cd89: the device cookie the store signed. The issue lists "a household of
    four sharing one device and address" as a false-positive trap that must not be hurt; with
    a typed device id the family is reviewed at most. On the issued id the four are proven
    tied (issued_device, all seen on it before the sale: "established" on it), nobody in the
    family bought before, so households_apart shelters no one: linking blocks all four and
    returns them for cancellation (their paid orders refunded, units given back) with no
    person looking. Expected: at most review, nothing cancelled, as for the typed id."""
    laptop = device_issue()
    home = [make_customer(phone=f"1397654321{n}", with_address=False) for n in range(4)]
    for member in home:
        share_address(member, line1="12 Home Road, Flat 3")
    _burst(home, days=500)
    earlier_sale(*home, device=laptop)
    judge(*[attempt(m.user_id, device=laptop, ip="36.8.8.8", after_ms=12_000 * (n + 1))
            for n, m in enumerate(home)])
    _bought_in_sale(home, sku)
    cancelled = linking.linking_run(sale_id=1)
    assert cancelled == []
    assert set(_linking_decisions().values()) <= {"review"}


def test_a_household_reviewed_as_a_household_in_its_first_sale_never_becomes_established(
        make_customer, sku):
    """Four people at one address share the family laptop (its issued id). In a flash sale
    two months ago, their first purchases, realtime reviewed them for exactly what a
    household is (device_accounts, shared_address: rules.py, "a household of four on one
    device and one address is at most reviewed"); nobody answered those reviews, as nobody
    answers most of a rush's queue, and their orders were delivered. established.first_bought
    leaves out every flash sale the account was flagged in (review or block, not cleared),
    realtime reviews included, so these four never become established customers through
    the sales they shop in: households_apart does not shelter them, and in this sale their
    issued browser ties them as a proven ring of four: all blocked and cancelled. The same
    four without those old reviews are sheltered (test_issued_devices). Expected: the
    household is not blocked: a review for being a household cannot be what keeps a
    household from the household shelter."""
    laptop = device_issue()
    home = [make_customer(with_address=False) for _ in range(4)]
    for member in home:
        age(member, days=900)
        share_address(member, line1="12 Home Road, Flat 3")
    opened = T0 - 7_200_000  # sale 7's opening (its orders are dated 60 days back below)
    before = judge(*[replace(attempt(m.user_id, sale_id=7, device=laptop, ip="36.8.8.8"),
                             opens_ms=opened, at_ms=opened + 12_000 * (n + 1))
                     for n, m in enumerate(home)])
    assert {d.decision for d in before.values()} == {"review"}
    assert all("device_accounts" in fired(d) for d in before.values())
    for member in home:
        order = order_create(user_id=member.user_id, lines=[(sku.pk, 1)])
        Order.objects.filter(pk=order.pk).update(
            status="delivered", sale_id=7, created_at=timezone.now() - timedelta(days=60))
    judge(*[attempt(m.user_id, device=laptop, ip="36.8.8.8", after_ms=12_000 * (n + 1))
            for n, m in enumerate(home)])
    _bought_in_sale(home, sku)
    assert linking.linking_run(sale_id=1) == []
    assert "block" not in _linking_decisions().values()


# --- 223cd89 (b): the household shelter ------------------------------------------------------


def _copied_address_world(make_customer, sku, *, newcomers: int):
    """An established customer (900 days, a paid order long ago) at 3 Quiet Road, Flat 2; a
    scalper's account made "established" by one cheap order 45 days ago, and `newcomers`
    fresh accounts, all typing the customer's exact address. All admitted at a human pace."""
    victim = make_customer(with_address=False)
    age(victim, days=900)
    bought_before(victim, sku, days=400)
    share_address(victim, line1="3 Quiet Road, Flat 2")
    aged = make_customer(with_address=False)
    age(aged, days=500)
    bought_before(aged, sku, days=45)
    share_address(aged, line1="3 Quiet Road, Flat 2")
    fresh = [make_customer(with_address=False) for _ in range(newcomers)]
    for account in fresh:
        share_address(account, line1="3 Quiet Road, Flat 2")
    everyone = [victim, aged, *fresh]
    judge(*[attempt(a.user_id, ip=f"36.{n}.8.8", after_ms=2500 + 900 * n)
            for n, a in enumerate(everyone)])
    return victim, everyone


def test_one_established_copier_takes_the_shelter_from_the_customer_it_copies(
        make_customer, sku):
    """established.py: "an identifier held by one established customer and by newcomers
    ties the newcomers to each other, never to the customer (its details were copied)". The
    scalper only has to add one account of its own that bought a cheap item 45 days ago
    (the module itself says a ring can do that): the address is then held by two established
    accounts and newcomers, which falls to "anything else ties everyone", and the customer
    whose address was copied is tied into the ring's cluster and reviewed. With the same
    copiers and no aged one the customer is apart. The issue: "an established account is not
    punished because new accounts copied its details". Expected: the customer is in no
    cluster and gets no linking decision."""
    victim, _ = _copied_address_world(make_customer, sku, newcomers=3)
    assert all(victim.user_id not in c["members"] for c in linking.clusters_find(sale_id=1))
    linking.linking_run(sale_id=1)
    assert victim.user_id not in _linking_decisions()


def test_the_ops_desk_blocks_and_blacklists_a_customer_whose_address_a_ring_copied(
        make_customer, sku):
    """The chain a scalper can run against any established customer whose address it knows:
    six fresh accounts and one aged one (a cheap order 45 days ago) type the customer's
    exact address. The shelter breaks (previous test), the customer lands in the ring's case,
    and the replay's ops desk (0548637), reading the case through the API as a person would,
    sees six of eight members named `new_account`/`registration_burst` (75 %) and confirms:
    the customer, allowed in realtime with no evidence of its own, is blocked and blacklisted
    by account. The issue: a claimed identity alone never cancels or blocks someone else, and
    an established account is not punished because new accounts copied its details; the desk
    answers per case, so whoever the attackers tie into their case goes with them. Expected:
    the customer is not blacklisted."""
    victim, _ = _copied_address_world(make_customer, sku, newcomers=6)
    linking.linking_run(sale_id=1)
    ops = staff_client(VIEW, ACT, LIST)
    for case in RingCase.objects.filter(status="open"):
        shown = ops.get(case_path(case)).json()
        answer = answer_for(shown)
        response = ops.post(f"{case_path(case)}/{answer}", {"members": shown["members"]},
                            format="json")
        assert response.status_code == 200
    assert not BlacklistEntry.objects.filter(kind="account", value=str(victim.user_id),
                                             is_active=True).exists()


def test_one_established_account_per_farm_browser_keeps_the_ring_out_of_linking(
        make_customer, sku):
    """Four accounts present one issued browser id in this sale and each wins a unit; one of
    them bought a cheap item two months ago. Without that order the four are a proven ring
    and blocked (test_issued_devices: accounts on one issued browser are a proven ring); if
    the aged account had used the browser in an earlier sale, the three others are blocked
    as copiers counted with it (3 + 1). Here households_apart takes the aged account as "one
    customer, copied by newcomers" and sets it apart, but nothing counts the three with it:
    their proven group is 3, below linked_cluster's 4, so linking records no decision and no
    case at all: a ring of four per browser keeps every unit for the price of one old order
    per browser (an HttpOnly id is not copied; it was handed over). Expected: the three
    newcomers blocked, as when the aged account was seen on the browser before."""
    browser = device_issue()
    aged = make_customer()
    age(aged, days=500)
    bought_before(aged, sku)
    newcomers = [make_customer() for _ in range(3)]
    for n, account in enumerate(newcomers):
        age(account, days=200 + n)
    ring = [aged, *newcomers]
    judge(*[attempt(a.user_id, device=browser, ip=f"36.{n}.8.8", after_ms=15_000 + 9000 * n)
            for n, a in enumerate(ring)])
    _bought_in_sale(ring, sku)
    linking.linking_run(sale_id=1)
    decided = _linking_decisions()
    assert {a.user_id: decided.get(a.user_id) for a in newcomers} == {
        a.user_id: "block" for a in newcomers}


def test_two_households_of_four_tied_by_a_card_are_no_household(make_customer, sku):
    """established.py: a household is "at most HOUSEHOLD_MAX accounts, counted over every
    such tie among them". Eight accounts made established (one cheap order 60 days ago) run
    as two "households" of four, each on one device id and one exact address, and two of them
    (one from each) were both charged on one card before the sale: a proven tie between the
    two groups, so the eight are one group of eight over the ties among them, no household of
    four. households_apart only unions customer-only claimed ties (device, address, phone),
    never the card, so each four stays a "household", its device and address ties are
    dropped, and linking finds a cluster of two (the card's holders), below linked_cluster's
    threshold: nobody is reviewed. Expected: the eight are one cluster."""
    ring = [make_customer(with_address=False) for _ in range(8)]
    for n, account in enumerate(ring):
        age(account, days=400 + n)
        bought_before(account, sku)
        share_address(account, line1=f"{n // 4 + 1} Drop Lane, Flat 9")
    pay_with(ring[0], sku, "4000 1234 5678 9010")
    pay_with(ring[4], sku, "4000 1234 5678 9010")
    judge(*[attempt(a.user_id, device=f"ring-phone-{n // 4}", ip=f"36.{n}.8.8",
                    after_ms=15_000 + 4000 * n) for n, a in enumerate(ring)])
    assert [c["members"] for c in linking.clusters_find(sale_id=1)] == [
        sorted(a.user_id for a in ring)]


def test_the_ops_desk_does_not_confirm_a_household_of_new_fans(make_customer):
    """A family opens four accounts in the days before the launch (3 to 6 days old), on one
    phone passed round (a typed device id) and one address: the issue's household trap, with
    nothing scalper-like in its attempts (a try each, twelve seconds apart). Linking reviews
    it (claimed ties only), which rules.py promises is as far as a household goes. The desk
    reads the case and confirms it, because every member's realtime decision names
    `new_account`: the desk counts being days old as ring evidence, when rules.py itself says
    a launch brings genuine sign-ups in waves. The four are blocked and blacklisted. Expected:
    the desk clears (or leaves) a case whose only ring evidence is that its members are new."""
    home = [make_customer(phone=f"1397654321{n}", with_address=False) for n in range(4)]
    for n, member in enumerate(home):
        share_address(member, line1="12 Home Road, Flat 3")
        age(member, days=3 + n)
    judge(*[attempt(m.user_id, device="family-phone", ip="36.8.8.8", after_ms=12_000 * (n + 1))
            for n, m in enumerate(home)])
    linking.linking_run(sale_id=1)
    (case,) = RingCase.objects.all()
    assert set(_linking_decisions().values()) == {"review"}
    assert answer_for(staff_client(VIEW).get(case_path(case)).json()) != "confirm"  # clear, or left
