"""The replay's ops desk: its rule reads only what the case API shows, and on a live server it
answers each open case once, through the ops API, with an ops-group account."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from rest_framework_simplejwt.tokens import AccessToken

from antiscalper import linking
from antiscalper.models import BlacklistEntry, RingCase
from antiscalper.tests.risk_helpers import building_ring
from loadtests.double11 import ops_desk


def _case(*, ties: list[str], established: list[bool], address_of_all: bool = False) -> dict:
    """A case as GET .../cases/{case} shows it: its ties, and whether each member was an
    established customer when the sale opened."""
    members = list(range(1, len(established) + 1))
    links = [{"kind": kind, "members": members[:2]} for kind in ties]
    if address_of_all:
        links.append({"kind": "address", "members": members})
    return {"members": members, "links": links,
            "accounts": [{"established": e, "decisions": []} for e in established]}


def test_the_rule_confirms_newcomers_clears_customers_and_leaves_the_rest_open():
    assert ops_desk.answer_for(_case(ties=["building"], established=[False] * 4)) == "confirm"
    assert ops_desk.answer_for(_case(ties=["device"], established=[True] * 4)) == "clear"
    # a customer among newcomers may be the one they copied: left open
    assert ops_desk.answer_for(_case(ties=["address"],
                                     established=[False] * 7 + [True])) is None
    # four new accounts on one flat: a family signing up together looks so too
    assert ops_desk.answer_for(_case(ties=["device"], established=[False] * 4,
                                     address_of_all=True)) is None
    assert ops_desk.answer_for(_case(ties=["device"], established=[False] * 5,
                                     address_of_all=True)) == "confirm"
    assert ops_desk.answer_for(_case(ties=["subnet"], established=[False] * 4)) is None
    assert ops_desk.answer_for(_case(ties=[], established=[])) is None


@pytest.mark.django_db(transaction=True)
def test_the_desk_answers_an_open_case_once_through_the_api(live_server, make_customer):
    """Five aged accounts that never bought, on one building: the desk reads them as
    newcomers, confirms the case, and the ring is blacklisted."""
    ring = building_ring(make_customer)
    linking.linking_run(sale_id=1)
    (case,) = RingCase.objects.all()
    call_command("setup_ops_group", verbosity=0)
    user = get_user_model().objects.create_user("ops-desk", is_staff=True)
    user.groups.set([Group.objects.get(name="ops")])
    desk = ops_desk.OpsDesk(base=live_server.url, token=str(AccessToken.for_user(user)),
                            sale_ids=(1,), read_s=0.2, say=lambda line: None)
    desk.start()
    try:
        deadline = time.monotonic() + 30
        while not desk.answers and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3 * ops_desk.POLL_S)  # further rounds: the answered case is not open
    finally:
        desk.stopped.set()
        desk.join(timeout=30)
    assert [(a.case_id, a.answer, a.status) for a in desk.answers] == [
        (case.pk, "confirm", 200)]
    assert RingCase.objects.get(pk=case.pk).status == "confirmed"
    assert sorted(int(v) for v in BlacklistEntry.objects.filter(kind="account")
                  .values_list("value", flat=True)) == sorted(a.user_id for a in ring)
    summary = ops_desk.summary(desk.answers, read_s=desk.read_s)
    assert (summary["confirmed_cases"], summary["confirmed_accounts"]) == (1, 5)
