"""A service's refusal reads in the console's language (the ops admin in Chinese says why an
action did nothing in Chinese), while the API keeps its contract's English whatever the
language cookie says (docs/api.md)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from sales.models import SaleMode
from shop.tests.fixtures import client_for

pytestmark = pytest.mark.django_db

WHY_ZH = "抽签抢购发放的是购买资格，不是 F 码。"
WHY_EN = "A draw sale gives purchase rights, not F-codes."


@pytest.fixture
def draw(make_sale):
    sale = make_sale(load=False)
    sale.mode, sale.fcode_quota = SaleMode.DRAW, 2
    sale.save(update_fields=["mode", "fcode_quota"])
    return sale


@pytest.mark.parametrize(("language", "said", "not_said"), [("zh-hans", WHY_ZH, WHY_EN),
                                                            ("en", WHY_EN, WHY_ZH)])
def test_an_admin_action_refused_by_its_service_says_why_in_the_consoles_language(
        superuser, draw, language, said, not_said):
    console = Client()
    console.force_login(superuser)
    console.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    answer = console.post("/admin/sales/flashsale/", {
        "action": "issue_fcodes", "_selected_action": [draw.pk]}, follow=True)
    text = answer.content.decode()
    assert answer.status_code == 200 and said in text and not_said not in text


def test_the_api_says_the_same_refusal_in_english_whatever_the_cookie(superuser, draw):
    api = client_for(superuser)
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    answer = api.post(f"/api/v1/ops/sales/{draw.pk}/fcodes", {"count": 1}, format="json")
    assert answer.json()["error"]["code"] == "wrong_mode"
    assert answer.json()["error"]["message"] == WHY_EN
