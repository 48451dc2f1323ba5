"""Review of the ops admin in two languages: records whose words are hostile (a sale's
title, a username, an appeal's message, a decision's reason, a blacklist entry's reason) are
text on every page of ours in English and in Chinese, and the header's language switch goes
back only to a page of this site."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from antiscalper.models import Appeal, BlacklistEntry, RiskDecision
from sales.models import FlashSale
from sales.tests.admin_languages import LANGUAGES, world_pages
from sales.tests.admin_world import sale_rows

pytestmark = pytest.mark.django_db

HOSTILE = '"><img src=x onerror=alert(1)><script>alert(1)</script>'
RAW = ("<img src=x", "<script>alert")


@pytest.fixture
def hostile_world(make_customer, make_sale, make_order) -> dict:
    world = sale_rows(make_customer=make_customer, make_sale=make_sale, make_order=make_order)
    FlashSale.objects.filter(pk=world["sale"].pk).update(title=f"Mi{HOSTILE}")
    get_user_model().objects.filter(pk=world["shopper"].user_id).update(
        username=f"fan{HOSTILE}")
    Appeal.objects.filter(pk=world["appeal"].pk).update(message=f"honest{HOSTILE}")
    RiskDecision.objects.filter(pk=world["decision"].pk).update(reason=f"score{HOSTILE}")
    BlacklistEntry.objects.filter(pk=world["entry"].pk).update(reason=f"ring{HOSTILE}")
    return world


def pages_of(world: dict) -> dict[str, str]:
    sale, order = world["sale"], world["order"]
    return {**world_pages(world),
            "order": f"/admin/shop/order/{order.pk}/change/",
            "orders": "/admin/shop/order/",
            "payment": f"/admin/shop/payment/{order.payments.get().pk}/change/",
            "reservations": "/admin/sales/reservation/",
            "reservation": f"/admin/sales/reservation/{sale.reservations.get().pk}/change/",
            "draw": f"/admin/sales/draw/{sale.draw.pk}/change/",
            "rejected": "/admin/sales/rejectedticket/",
            "blacklist": "/admin/antiscalper/blacklistentry/",
            "entry": f"/admin/antiscalper/blacklistentry/{world['entry'].pk}/change/",
            "sale-delete": f"/admin/sales/flashsale/{sale.pk}/delete/",
            "sale-history": f"/admin/sales/flashsale/{sale.pk}/history/"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_hostile_words_of_the_records_are_text_on_every_page_in_both_languages(
        hostile_world, superuser, language):
    client = Client()
    client.force_login(superuser)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    for name, url in pages_of(hostile_world).items():
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        html = response.content.decode()
        assert not [raw for raw in RAW if raw in html], (language, name)


@pytest.mark.parametrize("target", [
    "javascript:alert(1)", "//evil.example/admin/", "https://evil.example/", "/\\evil.example",
    "\\\\evil.example", " javascript:alert(1)", "java\tscript:alert(1)",
    "http:evil.example", "/admin/\r\nSet-Cookie: stolen=1"])
def test_the_language_switch_goes_back_only_to_a_page_of_this_site(client, target):
    response = client.get("/language/zh-hans/", {"next": target})
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert "\n" not in location and "\r" not in location
    assert "stolen" not in response.cookies
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"


def test_the_admins_switch_link_carries_a_hostile_query_as_data(client, superuser):
    client.force_login(superuser)
    html = client.get("/admin/sales/flashsale/", {"q": HOSTILE}).content.decode()
    link = html.split('class="language-switch" href="', 1)[1].split('"', 1)[0]
    assert link.startswith("/language/zh-hans/?next=/admin/sales/flashsale/%3Fq%3D")
    assert "<" not in link and ">" not in link


@pytest.fixture
def viewer(make_staff):
    """Staff who may read flags, appeals, cases and sales, and answer nothing."""
    return make_staff("antiscalper.view_riskdecision", "antiscalper.view_appeal",
                      "antiscalper.view_ringcase", "sales.view_flashsale")


def test_view_only_staff_in_chinese_see_no_answer_and_are_refused_every_one(
        make_customer, make_sale, make_order, viewer):
    world = sale_rows(make_customer=make_customer, make_sale=make_sale, make_order=make_order)
    decision, appeal, case, sale = world["decision"], world["appeal"], world["case"], world["sale"]
    client = Client()
    client.force_login(viewer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    for name in ("decision", "appeal", "case", "dashboard"):
        response = client.get(world_pages(world)[name])
        assert response.status_code == 200, name
        html = response.content.decode()
        assert '<html lang="zh-hans"' in html
        assert not [verb for verb in ("/confirm/", "/clear/", "/uphold/", "/reject/")
                    if verb in html.split('id="content-main"', 1)[1]], name
    posts = [f"/admin/antiscalper/riskdecision/{decision.pk}/confirm/",
             f"/admin/antiscalper/riskdecision/{decision.pk}/clear/",
             f"/admin/antiscalper/appeal/{appeal.pk}/uphold/",
             f"/admin/antiscalper/appeal/{appeal.pk}/reject/",
             f"/admin/antiscalper/ringcase/sale/{sale.pk}/{case.pk}/confirm/do/",
             f"/admin/antiscalper/ringcase/sale/{sale.pk}/{case.pk}/clear/do/"]
    for url in posts:
        assert client.post(url, {"members": str(world["shopper"].user_id)}).status_code == 403, url
    decision.refresh_from_db(), appeal.refresh_from_db(), case.refresh_from_db()
    assert (decision.review_status, appeal.status, case.status) == ("open", "open", "open")


def test_staff_without_the_view_right_reach_no_dashboard_in_either_language(
        make_sale, make_staff):
    sale = make_sale(load=False)
    client = Client()
    client.force_login(make_staff("antiscalper.view_appeal"))
    for language in LANGUAGES:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        assert client.get(f"/admin/sales/flashsale/{sale.pk}/dashboard/").status_code == 403
