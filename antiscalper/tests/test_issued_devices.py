"""Device ids the store issued (issue 16, point 1): a signed device cookie is a verified
identity, a typed X-Device-Id a claim. Accounts presenting one issued id share a browser and
may be blocked for it; newcomers handed a fan's id are tied to each other, never to the fan;
an established household on one browser is no ring; the incremental step agrees."""

from __future__ import annotations

import itertools

import pytest
from django.test import Client

from antiscalper import incremental, linking
from antiscalper.models import RiskDecision
from antiscalper.tests.risk_helpers import (
    age,
    attempt,
    bought_before,
    earlier_sale,
    judge,
    pay_with,
    share_address,
)
from core.devices import device_issue, device_issued
from core.http import DEVICE_COOKIE

pytestmark = pytest.mark.django_db

_sales = itertools.count(900)


def test_only_what_the_store_signed_verifies():
    issued = device_issue()
    assert device_issued(issued) and len(issued) <= 64
    token, signature = issued.split(":")
    for forged in ("", "farm-phone-7", token, f"{token}:{signature[:-1]}x",
                   f"{token[:-1]}x:{signature}", issued + "x", f"{issued}:{signature}"):
        assert not device_issued(forged), forged
    assert device_issue() != issued


def _linking(accounts, *, device: str, sale_id: int = 1) -> dict[int, str]:
    judge(*[attempt(a.user_id, sale_id=sale_id, device=device, ip=f"36.{n}.8.8",
                    after_ms=2500 + 900 * n) for n, a in enumerate(accounts)])
    linking.linking_run(sale_id=sale_id)
    return dict(RiskDecision.objects.filter(sale_id=sale_id, source="linking")
                .values_list("user_id", "decision"))


def _aged(make_customer, count: int) -> list:
    accounts = [make_customer() for _ in range(count)]
    for n, account in enumerate(accounts):
        age(account, days=300 + 11 * n)
    return accounts


def test_accounts_on_one_issued_browser_are_a_proven_ring(make_customer):
    farm = _aged(make_customer, 5)
    assert _linking(farm, device=device_issue()) == {a.user_id: "block" for a in farm}
    (cluster,) = linking.clusters_find(sale_id=1)
    assert {x["kind"] for x in cluster["links"]} >= {"issued_device"}


def test_the_same_accounts_on_a_typed_device_id_are_reviewed_only(make_customer):
    farm = _aged(make_customer, 5)
    assert _linking(farm, device="farm-phone-7") == {a.user_id: "review" for a in farm}


def test_newcomers_handed_a_fans_issued_id_are_blocked_without_the_fan(make_customer):
    """The fan was seen on its browser in an earlier sale; three accounts present its id in
    this one: their own proven group, counted with the fan (3 + 1: the cluster rule's four),
    is blocked; the fan is in no cluster and gets no linking decision."""
    browser = device_issue()
    fan = _aged(make_customer, 1)[0]
    earlier_sale(fan, device=browser)
    copiers = _aged(make_customer, 3)
    decisions = _linking([fan, *copiers], device=browser)
    assert decisions == {c.user_id: "block" for c in copiers}
    assert all(fan.user_id not in c["members"] for c in linking.clusters_find(sale_id=1))


def test_an_established_household_on_one_issued_browser_is_no_ring(make_customer, sku):
    """Four customers who live together (one address) and bought long ago share the family
    laptop: no tie. The same four at four addresses are no household: blocked."""
    home = [make_customer(with_address=False) for _ in range(4)]
    for member in home:
        age(member, days=900)
        share_address(member, line1="12 Home Road, Flat 3")
        bought_before(member, sku)
    assert _linking(home, device=device_issue()) == {}
    assert linking.clusters_find(sale_id=1) == []
    apart = _aged(make_customer, 4)
    for member in apart:
        bought_before(member, sku)
    assert _linking(apart, device=device_issue(), sale_id=2) == {
        a.user_id: "block" for a in apart}


def test_the_step_decides_an_issued_browser_ring_as_the_full_pass(make_customer, sku,
                                                                  redis_client):
    """Arrivals one by one, a fan seen on the id before among them: at every step the
    region's clusters are the full pass's, and the decisions end the same."""
    browser = device_issue()
    fan = _aged(make_customer, 1)[0]
    earlier_sale(fan, device=browser)
    accounts = [fan, *_aged(make_customer, 4)]
    live, full = next(_sales), next(_sales)
    for n, account in enumerate(accounts):
        judge(attempt(account.user_id, sale_id=live, device=browser, ip=f"36.{n}.9.1",
                      after_ms=2500 + 900 * n))
        with incremental.linking_step(sale_id=live):
            nodes = incremental.region(sale_id=live, seeds={account.user_id})
        found = linking.clusters_find(sale_id=live,
                                      graph=incremental.graph(sale_id=live, nodes=nodes))
        assert found == [c for c in linking.clusters_find(sale_id=live)
                         if set(c["members"]) & nodes]
    judge(*[attempt(a.user_id, sale_id=full, device=browser, ip=f"36.{n}.9.1",
                    after_ms=2500 + 900 * n) for n, a in enumerate(accounts)])
    linking.linking_run(sale_id=full)
    decided = {sale: dict(RiskDecision.objects.filter(sale_id=sale, source="linking")
                          .values_list("user_id", "decision")) for sale in (live, full)}
    assert decided[live] == decided[full] == {a.user_id: "block" for a in accounts[1:]}


def test_the_storefront_issues_a_signed_device_cookie_and_replaces_a_forged_one(db):
    """The login page gives a browser a signed id (no account needed), keeps it, and
    replaces an unsigned or forged one."""
    browser = Client()
    page = browser.get("/login/")
    issued = page.cookies[DEVICE_COOKIE].value
    assert device_issued(issued) and page.cookies[DEVICE_COOKIE]["httponly"]
    assert DEVICE_COOKIE not in browser.get("/login/").cookies  # kept, not reissued
    browser.cookies[DEVICE_COOKIE] = "farm-phone-7"
    replaced = browser.get("/login/").cookies[DEVICE_COOKIE].value
    assert device_issued(replaced) and replaced != issued


def test_a_family_paying_with_one_card_is_no_ring_a_ring_of_customers_on_one_is(
        make_customer, sku):
    """Four established customers at one address, each charged on the parent's card long
    before the sale: a household, not tied. Four established customers at four addresses on
    one card: a proven ring, blocked."""
    family = [make_customer(with_address=False) for _ in range(4)]
    for member in family:
        age(member, days=900)
        share_address(member, line1="8 Family Road, Flat 2")
        pay_with(member, sku, "4000 0000 0000 0002", days_ago=90)
        bought_before(member, sku, days=90)
    assert _linking(family, device="") == {}
    ring = _aged(make_customer, 4)
    for member in ring:
        pay_with(member, sku, "4000 0000 0000 0077", days_ago=90)
        bought_before(member, sku, days=90)
    assert _linking(ring, device="", sale_id=2) == {a.user_id: "block" for a in ring}
