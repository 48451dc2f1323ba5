"""The ops API for ring cases (docs/api.md): ops read a sale's cases and answer one, as in
admin: each answer once, the members they saw, the rights it takes, and no raw card value."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection as db_connection

from antiscalper import linking
from antiscalper.models import BlacklistEntry, RingCase, RiskDecision
from antiscalper.tests.risk_helpers import (
    BLACKLIST_ADD,
    CASES_ACT,
    CASES_VIEW,
    age,
    attempt,
    bought_before,
    building_ring,
    case_path,
    judge,
    pay_with,
    staff_client,
)
from shop.tests.fixtures import client_for

pytestmark = pytest.mark.django_db

VIEW, ACT, LIST = CASES_VIEW, CASES_ACT, BLACKLIST_ADD


@pytest.fixture
def ops():
    return staff_client(VIEW, ACT, LIST)


@pytest.fixture
def case(make_customer) -> RingCase:
    """Five old accounts on one building, flagged for review by linking: one open case."""
    ring = building_ring(make_customer)
    linking.linking_run(sale_id=1)
    (case,) = RingCase.objects.all()
    assert sorted(case.members) == sorted(a.user_id for a in ring)
    return case


def test_ops_list_a_sales_cases_and_read_one_with_usernames_and_decisions(ops, case):
    listed = ops.get(f"/api/v1/ops/sales/{case.sale_id}/cases")
    assert listed.status_code == 200 and listed["X-Total-Count"] == "1"
    (row,) = listed.json()
    assert (row["id"], row["status"], row["size"], row["members"]) == (
        case.pk, "open", 5, case.members)
    assert any(link["kind"] == "building" for link in row["links"])
    assert ops.get(f"/api/v1/ops/sales/{case.sale_id}/cases?status=cleared").json() == []
    assert ops.get(f"/api/v1/ops/sales/{case.sale_id}/cases?status=bogus").status_code == 400
    assert ops.get("/api/v1/ops/sales/999/cases").json() == []
    detail = ops.get(case_path(case)).json()
    names = dict(get_user_model().objects.filter(pk__in=case.members)
                 .values_list("pk", "username"))
    assert [(a["user"], a["username"], a["pending"]) for a in detail["accounts"]] == [
        (u, names[u], True) for u in case.members]
    assert all(any(d["source"] == "linking" and d["decision"] == "review"
                   for d in a["decisions"]) for a in detail["accounts"])


def test_a_case_of_another_sale_or_a_bogus_id_is_not_found(ops, case):
    for path in (f"/api/v1/ops/sales/2/cases/{case.pk}", "/api/v1/ops/sales/1/cases/999",
                 f"/api/v1/ops/sales/2/cases/{case.pk}/confirm"):
        method = ops.post if path.endswith("confirm") else ops.get
        response = method(path, {}, format="json")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert RingCase.objects.get(pk=case.pk).status == "open"


def test_confirm_blocks_and_blacklists_once_and_a_retry_answers_nothing(ops, case):
    first = ops.post(f"{case_path(case)}/confirm", {"members": case.members}, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["answered"] == case.members
    assert first.json()["case"]["status"] == "confirmed"
    assert sorted(int(v) for v in BlacklistEntry.objects.filter(
        kind="account", is_active=True).values_list("value", flat=True)) == case.members
    again = ops.post(f"{case_path(case)}/confirm", {}, format="json")
    assert again.status_code == 200 and again.json()["answered"] == []
    assert RiskDecision.objects.filter(source="linking", decision="block").count() == 5
    other = ops.post(f"{case_path(case)}/clear", {}, format="json")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "case_answered"
    assert other.json()["error"]["details"] == {"status": "confirmed"}
    assert RingCase.objects.get(pk=case.pk).status == "confirmed"


def test_an_answer_for_members_the_case_no_longer_has_changes_nothing(ops, case):
    seen = case.members[:-1]  # the linking pass grew the case since it was shown
    response = ops.post(f"{case_path(case)}/clear", {"members": seen}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["members"] == ["changed"]
    assert RingCase.objects.get(pk=case.pk).status == "open"
    cleared = ops.post(f"{case_path(case)}/clear", {"members": case.members}, format="json")
    assert cleared.status_code == 200 and cleared.json()["answered"] == case.members
    assert not BlacklistEntry.objects.exists()


@pytest.mark.parametrize("body", [{"members": "all"}, {"members": [0]}, {"members": ["x"]},
                                  {"members": [None]}, {"members": {"a": 1}}, [1, 2], "x"])
def test_malformed_answers_are_refused_and_change_nothing(ops, case, body):
    response = ops.post(f"{case_path(case)}/confirm", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert RingCase.objects.get(pk=case.pk).status == "open"
    assert not BlacklistEntry.objects.exists()


def test_the_rights_each_answer_takes(case):
    """Reading takes the view right; clearing also act_on_case; confirming, which writes to
    the blacklist, also the right to add to it."""
    assert staff_client().get(case_path(case)).status_code == 403
    viewer = staff_client(VIEW)
    assert viewer.get(case_path(case)).status_code == 200
    assert viewer.post(f"{case_path(case)}/clear", {}, format="json").status_code == 403
    actor = staff_client(VIEW, ACT)
    assert actor.post(f"{case_path(case)}/confirm", {}, format="json").status_code == 403
    assert RingCase.objects.get(pk=case.pk).status == "open"
    assert actor.post(f"{case_path(case)}/clear", {}, format="json").status_code == 200


def test_a_card_is_shown_by_its_fingerprints_prefix_only(ops, make_customer, sku):
    ring = [make_customer() for _ in range(4)]
    for member in ring:
        age(member, days=400)
        pay_with(member, sku, "4111 1111 1111 1111")
    judge(*[attempt(m.user_id, ip=f"36.{n}.6.6", after_ms=3000 + 700 * n)
            for n, m in enumerate(ring)])
    linking.linking_run(sale_id=1)
    (case,) = RingCase.objects.all()
    (card,) = [link for link in case.links if link["kind"] == "payment"]
    body = ops.get(case_path(case)).content.decode() + ops.get(
        f"/api/v1/ops/sales/{case.sale_id}/cases").content.decode()
    assert card["value"] not in body and "4111" not in body
    assert card["shown"] in body


@pytest.mark.django_db(transaction=True)
def test_two_ops_confirming_at_once_answer_the_case_once(make_customer):
    ring = building_ring(make_customer)
    linking.linking_run(sale_id=1)
    (case,) = RingCase.objects.all()
    clients = [staff_client(VIEW, ACT, LIST) if n == 0 else client_for(
        get_user_model().objects.get(username=f"ops-{VIEW}-{ACT}-{LIST}")) for n in range(2)]
    start, answers = threading.Barrier(2), []

    def confirm(client) -> None:
        try:
            start.wait()
            answers.append(client.post(f"{case_path(case)}/confirm", {}, format="json"))
        finally:
            db_connection.close()

    threads = [threading.Thread(target=confirm, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.status_code for r in answers) == [200, 200]
    assert sorted(u for r in answers for u in r.json()["answered"]) == sorted(
        a.user_id for a in ring)
    assert BlacklistEntry.objects.filter(kind="account").count() == len(ring)


def test_a_case_shows_which_members_were_customers_before_the_sale(ops, make_customer, sku):
    """What a person weighs: a building ring's accounts never bought, or bought days before
    (not established); a card ring's members with orders paid two months before are."""
    ring = building_ring(make_customer)
    bought_before(ring[1], sku, days=3)
    cards = [make_customer() for _ in range(4)]
    for member in cards:
        age(member, days=500)
        pay_with(member, sku, "5500 0000 0000 0004", days_ago=60)
        bought_before(member, sku, days=60)
    judge(*[attempt(m.user_id, ip=f"36.{n}.7.7", after_ms=3000 + 700 * n)
            for n, m in enumerate(cards)])
    linking.linking_run(sale_id=1)
    shown = {}
    for case in RingCase.objects.all():
        shown.update({a["user"]: a for a in ops.get(case_path(case)).json()["accounts"]})
    assert (shown[ring[1].user_id]["established"], shown[ring[1].user_id]["orders_before"]) \
        == (False, 1)
    assert all(not shown[a.user_id]["established"] and shown[a.user_id]["orders_before"] == 0
               and shown[a.user_id]["joined_at"] for a in [ring[0], *ring[2:]])
    assert all(shown[m.user_id]["established"] and shown[m.user_id]["orders_before"] == 1
               for m in cards)
