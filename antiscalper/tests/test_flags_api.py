"""GET /api/v1/ops/flags: decisions with the rules that fired, for staff allowed to see them."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import call_command

from antiscalper.tests.helpers import error_of
from antiscalper.tests.risk_helpers import HEADLESS, attempt, judge
from shop.tests.fixtures import client_for

pytestmark = pytest.mark.urls("antiscalper.tests.urls")
URL = "/api/v1/ops/flags"


@pytest.fixture
def flags_api(make_staff):
    return client_for(make_staff("antiscalper.view_riskdecision"))


@pytest.fixture
def decided(make_customer):
    bot, fan, other_sale_bot = make_customer(), make_customer(), make_customer()
    return judge(attempt(bot.user_id, after_ms=3, user_agent=HEADLESS, device="shared"),
                 attempt(fan.user_id, after_ms=4000),
                 attempt(other_sale_bot.user_id, sale_id=2, after_ms=4, user_agent=HEADLESS))


def test_staff_list_flags_with_the_rules_that_fired(flags_api, decided):
    response = flags_api.get(f"{URL}?sale=1")
    assert response.status_code == 200 and response["X-Total-Count"] == "1"
    (flag,) = response.json()
    assert set(flag) == {"id", "sale", "user", "ticket", "source", "score", "decision",
                         "reason", "rules", "review_status", "created_at"}
    assert (flag["sale"], flag["decision"], flag["source"]) == (1, "block", "realtime")
    fast = next(rule for rule in flag["rules"] if rule["code"] == "fast_after_open")
    assert (fast["value"], fast["threshold"], fast["weight"]) == (3, 250, 25)


@pytest.mark.parametrize(("query", "count"), [
    ("", 2), ("decision=allow", 1), ("decision=block&sale=2", 1), ("sale=3", 0),
])
def test_filter_by_sale_and_decision(flags_api, decided, query, count):
    assert len(flags_api.get(f"{URL}?{query}").json()) == count


def test_a_bad_filter_is_400(flags_api, db):
    assert error_of(flags_api.get(f"{URL}?decision=maybe"))["code"] == "invalid"


def test_anonymous_is_401_customers_and_staff_without_the_permission_are_403(
        anon, api, make_staff, db):
    assert error_of(anon.get(URL))["code"] == "unauthenticated"
    assert anon.get(URL).status_code == 401
    assert api.get(URL).status_code == 403
    staff = client_for(make_staff("antiscalper.view_blacklistentry"))
    assert error_of(staff.get(URL))["code"] == "forbidden"


def test_the_schema_describes_the_flags_route(db, tmp_path, settings):
    settings.ROOT_URLCONF = "antiscalper.tests.urls"
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target),
                 stdout=StringIO(), stderr=StringIO())
    operation = yaml.safe_load(target.read_text())["paths"]["/api/v1/ops/flags"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"sale", "decision"}
