"""Phone number blocks in linking: a sale's new accounts on a run of consecutive numbers are
one cluster for review (a claimed tie: never blocked, never cancelled); an established fan in
the run, a block the store's customers hold normally, and a couple's two numbers tie no one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from antiscalper import linking, phone_blocks
from antiscalper.models import Decision, RiskDecision
from antiscalper.tests.risk_helpers import age, attempt, judge
from shop.models import Order
from shop.services import order_create

pytestmark = pytest.mark.django_db

RUN = "139123456"  # a block of 100: 13912345600 .. 13912345699


def _numbered(make_customer, tails, *, written: str = "{n}") -> list:
    accounts = [make_customer(phone=written.format(n=f"{RUN}{t:02d}")) for t in tails]
    for n, account in enumerate(accounts):
        age(account, days=300 + 7 * n)  # aged accounts, registered weeks apart
    return accounts


def _bought_before(customer, sku) -> None:
    order = order_create(user_id=customer.user_id, lines=[(sku.pk, 1)])
    Order.objects.filter(pk=order.pk).update(status="paid",
                                             created_at=timezone.now() - timedelta(days=40))


def _rush(accounts, *, sale_id: int = 1) -> None:
    judge(*[attempt(a.user_id, sale_id=sale_id, ip=f"36.{n}.3.1", after_ms=2500 + 800 * n)
            for n, a in enumerate(accounts)])


def _blocks(cluster: dict) -> list[tuple[str, int]]:
    return [(x["value"], x["accounts"]) for x in cluster["links"] if x["kind"] == "phone_block"]


@pytest.mark.parametrize("written", ["{n}", "+86 {n}", "0086{n}"])
def test_new_accounts_on_consecutive_numbers_are_one_cluster_for_review_only(
        make_customer, written):
    """Five aged accounts, own devices, IPs and addresses, numbers 13912345610..14 (one
    written with its country code): the block ties them; the cluster is claimed, so the ones
    who bought are reviewed, none blocked, none cancelled, and the explanation names it."""
    ring = _numbered(make_customer, range(10, 14)) + _numbered(make_customer, [14],
                                                              written=written)
    _rush(ring)
    [cluster] = linking.clusters_find(sale_id=1)
    assert cluster["members"] == sorted(a.user_id for a in ring)
    assert _blocks(cluster) == [(f"{RUN}xx", 5)]
    assert set(cluster["proven"].values()) == {1}
    assert linking.linking_run(sale_id=1) == []
    decisions = RiskDecision.objects.filter(source="linking")
    assert set(decisions.values_list("decision", flat=True)) == {Decision.REVIEW}
    [links] = {str(d.rules[0]["details"]["links"]) for d in decisions}
    assert "phone_block" in links and "copyable details" in decisions[0].reason


def test_an_established_fan_in_the_run_is_never_tied_to_the_newcomers(make_customer, sku):
    """The fan had bought before the sale: the newcomers next to its number form their own
    cluster; the fan is in none and gets no linking decision."""
    fan = _numbered(make_customer, [50])[0]
    _bought_before(fan, sku)
    ring = _numbered(make_customer, range(51, 55))
    _rush([fan, *ring])
    [cluster] = linking.clusters_find(sale_id=1)
    assert cluster["members"] == sorted(a.user_id for a in ring)
    linking.linking_run(sale_id=1)
    assert not RiskDecision.objects.filter(user_id=fan.user_id, source="linking").exists()
    assert not RiskDecision.objects.filter(user_id=fan.user_id, decision="block").exists()


@pytest.mark.parametrize("normal, tied", [(0, True), (3, True), (4, False), (30, False)])
def test_a_block_the_store_holds_normally_fades_and_ties_no_one(make_customer, normal, tied):
    """Accounts outside the sale on numbers of the block (a carrier's ordinary stock, a
    company's plan) weigh it: up to RARE_AT_PHONE_BLOCK of them it still ties the sale's
    newcomers, beyond it ties no one."""
    _numbered(make_customer, range(60, 60 + normal))  # in the store, not in the sale
    sale = _numbered(make_customer, range(95, 99))
    _rush(sale)
    clusters = linking.clusters_find(sale_id=1)
    assert bool(clusters) == tied
    if tied:
        assert [x["strength"] for x in clusters[0]["links"] if x["kind"] == "phone_block"] \
            == [0.6]


@pytest.mark.parametrize("phones", [
    [f"{RUN}20", f"{RUN}21", "13800138000", "13900139000"],  # a couple, and two others
    [f"{RUN}30", f"+86{RUN}30", f"0086{RUN}30", f"86{RUN}31"],  # two numbers, one 3 ways
], ids=["couple", "one-number-three-ways"])
def test_fewer_than_three_numbers_of_a_block_tie_no_one(make_customer, phones):
    people = [make_customer(phone=p) for p in phones]
    _rush(people)
    assert linking.clusters_find(sale_id=1) == []


def test_numbers_in_neighbouring_blocks_tie_no_one(make_customer):
    """Scattered numbers that merely look alike (same first seven digits, other hundreds)."""
    people = [make_customer(phone=f"1391234{h:02d}07") for h in (11, 23, 47, 68, 90)]
    _rush(people)
    assert linking.clusters_find(sale_id=1) == []


def test_the_store_is_asked_about_many_blocks_in_slices(make_customer):
    """A big sale's blocks are read a hundred at a time (an OR of LIKE prefixes per block),
    each number found however it was stored."""
    held = [make_customer(phone=p) for p in (f"{RUN}07", f"+86{RUN}08", "+4915112345678")]
    blocks = [f"1{n:08d}xx" for n in range(30_000_000, 30_000_250)]
    blocks += [f"{RUN}xx", "49151123456xx"]
    found = phone_blocks._store_holders(blocks)
    assert found[f"{RUN}xx"] == {held[0].user_id, held[1].user_id}
    assert found["49151123456xx"] == {held[2].user_id}
    assert sum(len(users) for users in found.values()) == 3
