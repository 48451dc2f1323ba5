"""The review queue, rule settings and the per-sale summary in admin."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages

from antiscalper import linking
from antiscalper.models import AllowlistEntry, BlacklistEntry, RiskDecision, RuleSetting, Source
from antiscalper.tests.helpers import mirrored
from antiscalper.tests.risk_helpers import HEADLESS, attempt, judge, pay_with, share_address

URL = "/admin/antiscalper/riskdecision/"


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def decided(make_customer):
    """A blocked bot, a fan in review (headless only), an allowed fan."""
    bot, odd, fan = make_customer(), make_customer(), make_customer()
    decisions = judge(
        attempt(bot.user_id, device="bot-dev", after_ms=3, user_agent=HEADLESS),
        attempt(odd.user_id, user_agent=HEADLESS, after_ms=4000),
        attempt(fan.user_id, after_ms=4000),
    )
    by_user = {d.user_id: RiskDecision.objects.get(ticket=t) for t, d in decisions.items()}
    return {"bot": by_user[bot.user_id], "odd": by_user[odd.user_id],
            "fan": by_user[fan.user_id]}


def act(client, action: str, *objects) -> list[str]:
    response = client.post(URL, {"action": action, "index": 0,
                                 ACTION_CHECKBOX_NAME: [o.pk for o in objects]})
    assert response.status_code == 302
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_queue_shows_flags_with_their_rules_and_hides_allowed_by_default(admin, decided):
    assert [decided[k].decision for k in ("bot", "odd", "fan")] == ["block", "review", "allow"]
    html = admin.get(URL).content.decode()
    assert f">{decided['bot'].pk}<" in html and f">{decided['odd'].pk}<" in html
    assert f">{decided['fan'].pk}<" not in html
    assert "headless_agent=1" in html
    assert f">{decided['fan'].pk}<" in admin.get(f"{URL}?flag=allow").content.decode()


def test_confirm_blacklists_the_account_and_device_as_a_rule(admin, admin_user, decided,
                                                             on_commit):
    with on_commit():
        messages = act(admin, "confirm_and_blacklist", decided["bot"])
    assert "Confirmed 1 flag(s)." in messages
    entries = {(e.kind, e.value, e.source) for e in BlacklistEntry.objects.all()}
    assert entries == {("account", str(decided["bot"].user_id), Source.RULE),
                       ("device", "bot-dev", Source.RULE)}
    assert mirrored("device") == {"bot-dev"}
    decided["bot"].refresh_from_db()
    assert (decided["bot"].review_status, decided["bot"].reviewed_by) == ("confirmed",
                                                                          admin_user)
    assert any("already handled" in m for m in act(admin, "confirm_and_blacklist",
                                                  decided["bot"]))


def test_false_positive_allowlists_the_account_and_later_decisions_allow_it(admin, decided):
    assert "Cleared 1 flag(s)." in act(admin, "false_positive_allow", decided["odd"])
    assert AllowlistEntry.objects.filter(kind="account",
                                         value=str(decided["odd"].user_id)).exists()
    (again,) = judge(attempt(decided["odd"].user_id, sale_id=2, user_agent=HEADLESS)).values()
    assert again.decision == "allow" and "allowlisted" in again.reason


def test_the_summary_page_shows_attempts_decisions_top_rules_and_clusters(admin, make_customer,
                                                                         sku, decided):
    ring = [make_customer() for _ in range(4)]
    for member in ring:
        share_address(member)
        pay_with(member, sku, "card-5555")
    judge(*[attempt(m.user_id, after_ms=6000 + 800 * n) for n, m in enumerate(ring)])
    linking.linking_run(sale_id=1)
    html = admin.get(f"{URL}summary/?sale=1").content.decode()
    assert "Risk summary of sale 1" in html
    assert "<th>Attempts</th><td>7</td>" in html and "<th>Admitted</th><td>7</td>" in html
    assert "headless_agent" in html and "linked_cluster" in html
    assert "1-" in html and "payment" in html  # the cluster row and what links it
    assert admin.get(f"{URL}summary/").status_code == 200


def test_rule_settings_are_editable_behind_a_confirmation_but_an_ip_rule_cannot_block(admin):
    setting = RuleSetting.objects.get(code="ip_velocity")
    url = f"/admin/antiscalper/rulesetting/{setting.pk}/change/"
    page = admin.get(url)
    assert page.status_code == 200 and "Attempts from this IP" in page.content.decode()
    response = admin.post(url, {"enabled": "on", "threshold": "100", "weight": "10",
                                "action": "block", "description": ""})
    assert response.status_code == 200 and "IP rules only add to the score" in \
        response.content.decode()
    response = admin.post(url, {"enabled": "on", "threshold": "100", "weight": "10",
                                "action": "score", "description": ""})
    assert response.status_code == 200 and "Yes, change it" in response.content.decode()
    assert RuleSetting.objects.get(code="ip_velocity").threshold == 300  # asked, not changed


def test_the_policy_and_the_rule_list_render(admin):
    assert admin.get("/admin/antiscalper/riskpolicy/1/change/").status_code == 200
    html = admin.get("/admin/antiscalper/rulesetting/").content.decode()
    assert "fast_after_open" in html and "linked_cluster" in html
