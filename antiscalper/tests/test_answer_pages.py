"""A decision's page and an appeal's page: the rules that fired as a table a person reads, and
the answers as buttons (POST, each needing its rights; a second click changes nothing)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from antiscalper import appeals, rules, services
from antiscalper.models import AllowlistEntry, Appeal, BlacklistEntry, RiskDecision

DECISIONS = "/admin/antiscalper/riskdecision/"
APPEALS = "/admin/antiscalper/appeal/"
FIRED = [{"code": "fast_after_open", "value": 12.0, "threshold": 250, "weight": 25,
          "action": "score"},
         {"code": "ip_velocity", "value": 420.0, "threshold": 300, "weight": 10,
          "action": "score"}]
CONFIRMERS = ("antiscalper.view_riskdecision", "antiscalper.change_riskdecision",
              "antiscalper.add_blacklistentry", "antiscalper.add_allowlistentry")
UPHOLDERS = ("antiscalper.view_appeal", "antiscalper.change_appeal",
             "antiscalper.add_allowlistentry", "antiscalper.change_blacklistentry")


@pytest.fixture
def flag(customer) -> RiskDecision:
    return RiskDecision.objects.create(sale_id=7, user=customer.user, decision="review",
                                       score=45, rules=FIRED, device="dev-77",
                                       reason="score 45 >= review score 40",
                                       created_at=timezone.now())


@pytest.fixture
def appeal(customer, flag) -> Appeal:
    services.blacklist_add(kind="account", value=str(customer.user_id), reason="ring member")
    made, _ = appeals.appeal_submit(user_id=customer.user_id, message="I queued like anyone.")
    return made


@pytest.fixture
def login(client, make_staff):
    def login(*perms: str):
        client.force_login(make_staff(*perms))
        return client
    return login


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_decision_page_shows_each_rule_with_value_threshold_points_and_intent(login, flag):
    html = login("antiscalper.view_riskdecision").get(
        f"{DECISIONS}{flag.pk}/change/").content.decode()
    assert flag.user.username in html and "score 45 &gt;= review score 40" in html
    assert rules.RULES["fast_after_open"].intent.split(";")[0] in html
    assert "<td>12.0</td><td>below</td><td>250</td>" in html
    assert "<td>10</td><td>score</td>" in html  # ip_velocity's points and action
    assert "IP rules add at most the policy&#x27;s IP cap together" in html
    assert "Confirm: blacklist" not in html and "Clear: a false positive" not in html


def test_the_confirm_button_blacklists_once_and_a_second_click_changes_nothing(login, flag):
    ops = login(*CONFIRMERS)
    page = ops.get(f"{DECISIONS}{flag.pk}/change/").content.decode()
    assert "Confirm: blacklist the account and device" in page
    response = ops.post(f"{DECISIONS}{flag.pk}/confirm/")
    assert response.status_code == 302 and response["Location"].endswith(
        f"{DECISIONS}{flag.pk}/change/")
    assert f"Decision #{flag.pk}: confirmed" in messages_of(response)[0]
    flag.refresh_from_db()
    assert flag.review_status == "confirmed"
    assert set(BlacklistEntry.objects.values_list("kind", "value")) == {
        ("account", str(flag.user_id)), ("device", "dev-77")}
    again = ops.post(f"{DECISIONS}{flag.pk}/clear/")
    assert "was already answered" in messages_of(again)[-1]
    assert not AllowlistEntry.objects.exists()
    assert "Confirm: blacklist" not in ops.get(f"{DECISIONS}{flag.pk}/change/").content.decode()


def test_the_clear_button_allowlists_the_account(login, flag):
    assert login(*CONFIRMERS).post(f"{DECISIONS}{flag.pk}/clear/").status_code == 302
    assert AllowlistEntry.objects.filter(kind="account", value=str(flag.user_id)).exists()
    assert RiskDecision.objects.get(pk=flag.pk).review_status == "cleared"


@pytest.mark.parametrize(("verb", "missing"), [("confirm", "antiscalper.add_blacklistentry"),
                                               ("clear", "antiscalper.add_allowlistentry"),
                                               ("confirm", "antiscalper.change_riskdecision")])
def test_a_decision_button_is_refused_without_its_rights(login, flag, verb, missing):
    ops = login(*[p for p in CONFIRMERS if p != missing])
    assert ops.post(f"{DECISIONS}{flag.pk}/{verb}/").status_code == 403
    assert ops.get(f"{DECISIONS}{flag.pk}/{verb}/").status_code == 405
    assert RiskDecision.objects.get(pk=flag.pk).review_status == "open"
    assert not BlacklistEntry.objects.exists() and not AllowlistEntry.objects.exists()


def test_an_appeal_page_shows_the_message_the_entry_and_the_rules_of_the_accounts_flags(
        login, appeal, flag):
    html = login("antiscalper.view_appeal").get(f"{APPEALS}{appeal.pk}/change/").content.decode()
    assert "I queued like anyone." in html and "ring member" in html
    assert f"{appeal.user.username} (account {appeal.user_id})" in html
    assert f"Decision #{flag.pk}" in html and "fast_after_open" in html
    assert "Uphold:" not in html and "Reject:" not in html


def test_the_uphold_button_clears_the_identity_and_a_second_click_changes_nothing(login,
                                                                                 appeal):
    ops = login(*UPHOLDERS)
    assert "Uphold: allowlist it" in ops.get(f"{APPEALS}{appeal.pk}/change/").content.decode()
    response = ops.post(f"{APPEALS}{appeal.pk}/uphold/", {"note": "bought for years"})
    assert f"Appeal #{appeal.pk} upheld" in messages_of(response)[0]
    appeal.refresh_from_db()
    assert (appeal.status, appeal.resolution) == ("upheld", "bought for years")
    assert AllowlistEntry.objects.filter(kind="account", value=str(appeal.user_id)).exists()
    assert not BlacklistEntry.objects.filter(is_active=True).exists()
    again = ops.post(f"{APPEALS}{appeal.pk}/reject/")
    assert "was already answered" in messages_of(again)[-1]
    assert Appeal.objects.get(pk=appeal.pk).status == "upheld"


def test_rejecting_needs_only_the_appeal_right_but_upholding_needs_the_lists_too(login,
                                                                                appeal):
    ops = login("antiscalper.view_appeal", "antiscalper.change_appeal")
    page = ops.get(f"{APPEALS}{appeal.pk}/change/").content.decode()
    assert "Reject: keep it blocked" in page and "Uphold:" not in page
    assert ops.post(f"{APPEALS}{appeal.pk}/uphold/").status_code == 403
    assert Appeal.objects.get(pk=appeal.pk).status == "open"
    assert ops.post(f"{APPEALS}{appeal.pk}/reject/", {"note": "same card as the ring"}) \
        .status_code == 302
    appeal.refresh_from_db()
    assert (appeal.status, appeal.resolution) == ("rejected", "same card as the ring")
    assert BlacklistEntry.objects.filter(is_active=True).count() == 1


def test_a_viewer_cannot_answer_an_appeal(login, appeal):
    viewer = login("antiscalper.view_appeal")
    assert viewer.post(f"{APPEALS}{appeal.pk}/reject/").status_code == 403
    assert viewer.post(f"{APPEALS}{appeal.pk}/uphold/").status_code == 403
    assert Appeal.objects.get(pk=appeal.pk).status == "open"
