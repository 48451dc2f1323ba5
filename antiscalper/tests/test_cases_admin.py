"""Ring cases in admin: the list per sale (open first), a case's page with its graph, and
one answer behind a confirmation page, POST only, CSRF-protected, for the right people."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client

from antiscalper import cases, linking
from antiscalper.models import BlacklistEntry, RingCase, RiskDecision
from antiscalper.tests.risk_helpers import age, attempt, building_ring, judge, pay_with

pytestmark = pytest.mark.django_db

LIST = "/admin/antiscalper/ringcase/"


def page(case: RingCase) -> str:
    return f"{LIST}{case.pk}/change/"


def answer(case: RingCase, verb: str, *, sale_id: int | None = None, do: bool = False) -> str:
    return f"{LIST}sale/{sale_id or case.sale_id}/{case.pk}/{verb}/" + ("do/" if do else "")


@pytest.fixture
def ring(make_customer):
    accounts = building_ring(make_customer)
    linking.linking_run(sale_id=1)
    return accounts


@pytest.fixture
def case(ring) -> RingCase:
    return RingCase.objects.get()


@pytest.fixture
def login(client, make_staff):
    def login(*perms: str) -> Client:
        client.force_login(make_staff(*perms))
        return client
    return login


@pytest.fixture
def ops(client, make_staff) -> Client:
    call_command("setup_ops_group", stdout=StringIO())
    user = make_staff()
    user.groups.add(Group.objects.get(name="ops"))
    client.force_login(user)
    return client


def state() -> tuple:
    return (list(RingCase.objects.values_list("status", "history")),
            sorted(RiskDecision.objects.values_list("pk", "decision", "review_status")),
            BlacklistEntry.objects.count())


def test_a_viewer_reads_the_list_and_the_case_with_usernames_links_and_a_graph(login, ring,
                                                                              case):
    viewer = login("antiscalper.view_ringcase")
    html = viewer.get(LIST).content.decode()
    assert ring[0].user.username in html and "building 9 drop st|shenzhen|518000 (5)" in html
    response = viewer.get(page(case))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('aria-label="Accounts of the case') == 1
    assert "<script" not in html.split("<!-- END SVGs -->")[0].split('id="content-main"')[1]
    assert all(member.user.username in html for member in ring)
    assert "tied only by copyable details" in html  # each member's explanation
    assert "Confirm the ring" not in html and "Clear the case" not in html


def test_a_card_ring_shows_the_fingerprint_prefix_never_the_card_or_the_whole_print(
        login, make_customer, sku):
    accounts = [make_customer() for _ in range(4)]
    for account in accounts:
        age(account, days=300)
        pay_with(account, sku, "4111 1111 1111 1111")
    judge(*[attempt(a.user_id, after_ms=3000 + 800 * n) for n, a in enumerate(accounts)])
    linking.linking_run(sale_id=1)
    card = RingCase.objects.get()
    (link,) = [x for x in card.links if x["kind"] == "payment"]
    html = login("antiscalper.view_ringcase").get(page(card)).content.decode()
    assert link["shown"] in html and link["value"] not in html and "4111" not in html


def test_the_list_shows_a_sales_open_cases_first(login, make_customer):
    first = building_ring(make_customer, street="1 First Road")
    building_ring(make_customer, street="2 Second Road")
    linking.linking_run(sale_id=1)
    older, newer = RingCase.objects.order_by("pk")
    cases.case_clear(sale_id=1, case_id=older.pk)
    html = login("antiscalper.view_ringcase").get(f"{LIST}?sale_id=1").content.decode()
    assert html.index(page(newer)) < html.index(page(older))
    assert first[0].user.username in html


def test_the_ops_group_confirms_a_case_through_its_confirmation_page(ops, ring, case):
    asked = ops.get(answer(case, "confirm"))
    assert asked.status_code == 200 and 'method="post"' in asked.content.decode()
    assert RingCase.objects.get().status == "open"  # asking changes nothing
    response = ops.post(answer(case, "confirm", do=True),
                        {"members": ",".join(str(u) for u in case.members)})
    assert response.status_code == 302
    assert any("5 member(s) blocked" in str(m) for m in get_messages(response.wsgi_request))
    case.refresh_from_db()
    assert case.status == "confirmed" and case.acted_by_id is not None
    assert sorted(RiskDecision.objects.filter(source="linking", decision="block")
                  .values_list("user_id", flat=True)) == case.members
    before = state()
    again = ops.post(answer(case, "confirm", do=True))
    assert any("already answered" in str(m) for m in get_messages(again.wsgi_request))
    assert state() == before
    assert ops.get(page(case)).status_code == 200


def test_the_ops_group_clears_a_case(ops, ring, case):
    assert ops.post(answer(case, "clear", do=True)).status_code == 302
    assert RingCase.objects.get().status == "cleared"
    assert set(RiskDecision.objects.filter(source="linking").values_list(
        "review_status", flat=True)) == {"cleared"}


@pytest.mark.parametrize("perms, refused", [
    (("antiscalper.view_ringcase",), ("confirm", "clear")),
    (("antiscalper.view_ringcase", "antiscalper.act_on_case"), ("confirm",)),
    (("antiscalper.view_ringcase", "antiscalper.add_blacklistentry"), ("confirm", "clear")),
    (("antiscalper.act_on_case", "antiscalper.add_blacklistentry"), ("confirm", "clear")),
])
def test_staff_without_the_right_are_refused_and_nothing_changes(login, case, perms, refused):
    staff = login(*perms)
    before = state()
    for verb in refused:
        assert staff.get(answer(case, verb)).status_code == 403
        assert staff.post(answer(case, verb, do=True)).status_code == 403
    assert state() == before


def test_hostile_requests_are_404_or_405_and_change_nothing(ops, case):
    before = state()
    for verb in ("confirm", "clear"):
        assert ops.get(answer(case, verb, do=True)).status_code == 405
        assert ops.put(answer(case, verb, do=True)).status_code == 405
        assert ops.post(answer(case, verb)).status_code == 405
        assert ops.post(answer(case, verb, sale_id=2, do=True)).status_code == 404
        assert ops.get(answer(case, verb, sale_id=2)).status_code == 404
        assert ops.post(f"{LIST}sale/1/999999/{verb}/do/").status_code == 404
        # not a case's address: the admin's catch-all sends it to a change page that is none
        assert ops.post(f"{LIST}sale/1/abc/{verb}/do/", follow=True).status_code == 404
        assert ops.post(f"{LIST}sale/1/{case.pk}/{verb}/do/",
                        {"members": "1,2,x"}).status_code == 302  # not what was shown
    assert ops.get(f"{LIST}999999/change/").status_code == 404
    assert ops.get(f"{LIST}abc/change/").status_code == 404
    assert state() == before


def test_an_answer_without_the_csrf_token_is_refused(make_staff, case):
    call_command("setup_ops_group", stdout=StringIO())
    user = make_staff()
    user.groups.add(Group.objects.get(name="ops"))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    before = state()
    assert strict.post(answer(case, "confirm", do=True)).status_code == 403
    assert state() == before
