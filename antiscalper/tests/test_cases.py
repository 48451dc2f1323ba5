"""Ring cases (issue 16, point 6): the linking pass records one case per flagged cluster, and
one answer confirms or clears every member."""

from __future__ import annotations

import pytest

from antiscalper import cases, linking
from antiscalper.models import BlacklistEntry, RingCase, RiskDecision
from antiscalper.tests.risk_helpers import (
    age,
    attempt,
    building_ring,
    judge,
    pay_with,
    share_address,
)
from core.errors import DomainError
from shop.models import Order
from shop.services import order_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def ring(make_customer):
    """Five old accounts delivering to one building, each to its own flat: a claimed tie, so
    linking flags them for review (nobody blocked); all five got stock."""
    return building_ring(make_customer)


@pytest.fixture
def fan(make_customer):
    """A genuine fan of the same sale, elsewhere, who bought too."""
    fan = make_customer()
    age(fan, days=800)
    judge(attempt(fan.user_id, ip="61.1.1.1", after_ms=5200))
    return fan


def ids(accounts) -> list[int]:
    return sorted(a.user_id for a in accounts)


def untouched(fan) -> None:
    assert not RiskDecision.objects.filter(user_id=fan.user_id, source="linking").exists()
    assert not BlacklistEntry.objects.filter(value=str(fan.user_id)).exists()
    assert not any(fan.user_id in c.members for c in RingCase.objects.all())


def test_a_ring_sharing_a_building_is_one_case_of_all_its_members(ring, fan):
    assert linking.linking_run(sale_id=1) == []  # a claimed tie: review, nobody cancelled
    (case,) = RingCase.objects.all()
    assert (case.sale_id, case.members, case.status) == (1, ids(ring), "open")
    (building,) = [link for link in case.links if link["kind"] == "building"]
    assert building["members"] == ids(ring) and building["shown"] == "9 drop st|shenzhen|518000"
    linking.linking_run(sale_id=1)
    assert RingCase.objects.count() == 1
    untouched(fan)


def test_a_card_is_shown_by_its_fingerprint_prefix_only(make_customer, sku):
    accounts = [make_customer() for _ in range(4)]
    for account in accounts:
        age(account, days=300)
        pay_with(account, sku, "4111 1111 1111 1111")
    judge(*[attempt(a.user_id, after_ms=3000 + 800 * n) for n, a in enumerate(accounts)])
    linking.linking_run(sale_id=1)
    (case,) = RingCase.objects.all()
    (card,) = [link for link in case.links if link["kind"] == "payment"]
    assert len(card["shown"]) == 8 and card["value"].startswith(card["shown"])
    assert "4111" not in str(case.links)


def test_confirm_blocks_and_blacklists_every_pending_member_once(ring, fan, admin_user):
    linking.linking_run(sale_id=1)
    case = RingCase.objects.get()
    assert cases.case_confirm(sale_id=1, case_id=case.pk, actor_id=admin_user.pk,
                              seen=ids(ring)) == ids(ring)
    blocks = RiskDecision.objects.filter(source="linking", decision="block")
    assert sorted(blocks.values_list("user_id", flat=True)) == ids(ring)
    assert set(blocks.values_list("review_status", flat=True)) == {"confirmed"}
    assert not RiskDecision.objects.filter(source="linking", review_status="open").exists()
    assert sorted(int(v) for v in BlacklistEntry.objects.filter(kind="account")
                  .values_list("value", flat=True)) == ids(ring)
    case.refresh_from_db()
    assert (case.status, case.acted_by, case.history[0]["from"]) == ("confirmed", admin_user,
                                                                     "open")
    assert case.history[0]["members"][str(ring[0].user_id)] == ["review"]
    # the pass hands the confirmed members to the sale's task, which cancels their orders
    assert linking.linking_run(sale_id=1) == ids(ring)
    rows = RiskDecision.objects.count(), BlacklistEntry.objects.count()
    assert cases.case_confirm(sale_id=1, case_id=case.pk, actor_id=admin_user.pk) is None
    assert cases.case_clear(sale_id=1, case_id=case.pk, actor_id=admin_user.pk) is None
    assert (RiskDecision.objects.count(), BlacklistEntry.objects.count()) == rows
    assert RingCase.objects.count() == 1  # the pass opens no second case for the answered ring
    untouched(fan)


def test_clear_allows_every_member_and_the_same_links_never_flag_them_again(ring, fan, sku,
                                                                           redis_client,
                                                                           on_commit):
    linking.linking_run(sale_id=1)
    case = RingCase.objects.get()
    assert redis_client.hexists(linking.Keys(1).clusters, ring[0].user_id)
    with on_commit():
        assert cases.case_clear(sale_id=1, case_id=case.pk) == ids(ring)
    assert not redis_client.hexists(linking.Keys(1).clusters, ring[0].user_id)
    allowed = RiskDecision.objects.filter(source="linking", decision="allow")
    assert sorted(allowed.values_list("user_id", flat=True)) == ids(ring)
    assert set(RiskDecision.objects.filter(source="linking").values_list(
        "review_status", flat=True)) == {"cleared"}
    assert not BlacklistEntry.objects.exists()
    # each member now holds an order of the sale: a buyer of a ring would be blocked
    for member in ring:
        order = order_create(user_id=member.user_id, lines=[(sku.pk, 1)])
        Order.objects.filter(pk=order.pk).update(sale_id=1)
    decisions = RiskDecision.objects.count()
    assert linking.linking_run(sale_id=1) == []
    assert RiskDecision.objects.count() == decisions
    assert linking.clusters_find(sale_id=1) == []
    assert RingCase.objects.count() == 1
    untouched(fan)


def test_a_case_grows_when_the_pass_links_someone_new(ring, make_customer):
    linking.linking_run(sale_id=1)
    late = make_customer(with_address=False)
    age(late, days=320)
    share_address(late, line1="Room 9, 9 Drop Street")
    judge(attempt(late.user_id, ip="36.9.1.1", after_ms=60_000))
    linking.linking_run(sale_id=1)
    (case,) = RingCase.objects.all()
    assert case.members == ids([*ring, late])


def test_an_answer_on_members_its_person_did_not_see_changes_nothing(ring):
    linking.linking_run(sale_id=1)
    case = RingCase.objects.get()
    with pytest.raises(DomainError):
        cases.case_confirm(sale_id=1, case_id=case.pk, seen=ids(ring)[:4])
    case.refresh_from_db()
    assert case.status == "open" and not BlacklistEntry.objects.exists()


@pytest.mark.parametrize("sale_id, offset", [(2, 0), (1, 10_000)])
def test_another_sales_case_or_a_bogus_id_is_not_found(ring, sale_id, offset):
    linking.linking_run(sale_id=1)
    case = RingCase.objects.get()
    for answer in (cases.case_confirm, cases.case_clear):
        with pytest.raises(DomainError) as error:
            answer(sale_id=sale_id, case_id=case.pk + offset)
        assert error.value.code == "not_found"
    assert RingCase.objects.get().status == "open"
