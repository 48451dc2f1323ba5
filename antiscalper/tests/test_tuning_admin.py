"""Tuning the risk engine in admin: a threshold, weight, action or switch of a rule, and the
policy's scores, change only after a confirmation page showing the old and new values; the
change is recorded with the value it replaced; people without the right are refused."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages

from antiscalper import tuning
from antiscalper.models import RiskPolicy, RuleSetting

RULE = "fast_after_open"


def rule_url() -> str:
    return f"/admin/antiscalper/rulesetting/{RuleSetting.objects.get(code=RULE).pk}/change/"


POLICY_URL = "/admin/antiscalper/riskpolicy/1/change/"


def rule_form(**changes) -> dict:
    row = RuleSetting.objects.get(code=RULE)
    data = {"enabled": "on" if row.enabled else "", "threshold": row.threshold,
            "weight": row.weight, "action": row.action, "description": row.description}
    return {k: v for k, v in {**data, **changes}.items() if v != ""}


def hidden_inputs(html: str) -> dict:
    """What the confirmation page's form posts (its hidden inputs), as a browser sends it."""
    form = html.split('<div id="content-main">')[1]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def history(obj) -> list[LogEntry]:
    return list(LogEntry.objects.filter(object_id=str(obj.pk),
                                        content_type__model=obj._meta.model_name))


@pytest.fixture
def tuner(client, make_staff):
    client.force_login(make_staff("antiscalper.view_rulesetting",
                                  "antiscalper.change_rulesetting",
                                  "antiscalper.view_riskpolicy",
                                  "antiscalper.change_riskpolicy"))
    return client


def test_saving_a_new_threshold_asks_first_and_changes_nothing(tuner):
    response = tuner.post(rule_url(), rule_form(threshold="300"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Yes, change it" in html
    assert re.search(r"threshold</th><td>250(\.0)?</td>\s*<td><strong>300(\.0)?</strong>", html)
    row = RuleSetting.objects.get(code=RULE)
    assert row.threshold == 250
    assert history(row) == []


def test_confirming_changes_it_and_records_the_previous_value_and_who(tuner):
    asked = tuner.post(rule_url(), rule_form(threshold="300", weight="30"))
    response = tuner.post(rule_url(), hidden_inputs(asked.content.decode()))
    assert response.status_code == 302
    row = RuleSetting.objects.get(code=RULE)
    assert (row.threshold, row.weight) == (300, 30)
    (entry,) = history(row)
    assert entry.change_message == "Changed threshold from 250 to 300; weight from 25 to 30."
    assert entry.user_id == int(tuner.session["_auth_user_id"])
    assert entry.action_time is not None


def test_confirming_twice_changes_it_once(tuner):
    asked = tuner.post(rule_url(), rule_form(action="review"))
    confirmation = hidden_inputs(asked.content.decode())
    tuner.post(rule_url(), confirmation)
    again = tuner.post(rule_url(), confirmation)
    assert again.status_code == 302
    assert RuleSetting.objects.get(code=RULE).action == "review"
    assert len(history(RuleSetting.objects.get(code=RULE))) == 1


def test_a_confirmation_made_stale_by_another_change_is_refused(tuner, make_staff):
    asked = tuner.post(rule_url(), rule_form(threshold="300"))
    tuning.rule_setting_change(code=RULE, changes={"threshold": 400.0}, seen=None,
                               actor_id=make_staff().pk)
    response = tuner.post(rule_url(), hidden_inputs(asked.content.decode()))
    assert response.status_code == 302
    assert any("Someone changed this since you looked" in str(m)
               for m in get_messages(response.wsgi_request))
    assert RuleSetting.objects.get(code=RULE).threshold == 400


def test_an_ip_rule_still_cannot_be_made_to_block(tuner):
    url = f"/admin/antiscalper/rulesetting/{RuleSetting.objects.get(code='ip_velocity').pk}/"
    response = tuner.post(url + "change/", {"enabled": "on", "threshold": "100", "weight": "10",
                                            "action": "block"})
    assert response.status_code == 200
    assert "IP rules only add to the score" in response.content.decode()
    assert "Yes, change it" not in response.content.decode()
    assert RuleSetting.objects.get(code="ip_velocity").action == "score"


def test_staff_who_may_only_view_cannot_change_a_rule_or_the_policy(client, make_staff):
    client.force_login(make_staff("antiscalper.view_rulesetting",
                                  "antiscalper.view_riskpolicy"))
    asked = client.post(rule_url(), rule_form(threshold="300"))
    assert asked.status_code == 403
    forced = client.post(rule_url(), {**rule_form(threshold="300"), "_confirmed": "1"})
    assert forced.status_code == 403
    assert client.post(POLICY_URL, {"review_score": "10", "block_score": "70", "ip_cap": "30",
                                    "_confirmed": "1"}).status_code == 403
    assert RuleSetting.objects.get(code=RULE).threshold == 250
    assert RiskPolicy.objects.get(pk=1).review_score == 40


def test_the_rule_list_cannot_be_edited_inline(tuner):
    html = tuner.get("/admin/antiscalper/rulesetting/").content.decode()
    assert "fast_after_open" in html
    assert 'name="form-0-threshold"' not in html


def test_the_policy_asks_first_refuses_review_above_block_and_records_the_change(tuner):
    refused = tuner.post(POLICY_URL, {"review_score": "80", "block_score": "70",
                                      "ip_cap": "30"})
    assert refused.status_code == 200 and "cannot be above the block score" in \
        refused.content.decode()
    asked = tuner.post(POLICY_URL, {"review_score": "35", "block_score": "75", "ip_cap": "30"})
    assert "Yes, change it" in asked.content.decode()
    assert RiskPolicy.objects.get(pk=1).review_score == 40
    assert tuner.post(POLICY_URL, hidden_inputs(asked.content.decode())).status_code == 302
    policy = RiskPolicy.objects.get(pk=1)
    assert (policy.review_score, policy.block_score) == (35, 75)
    (entry,) = history(policy)
    assert entry.change_message == ("Changed review_score from 40 to 35; "
                                    "block_score from 70 to 75.")
