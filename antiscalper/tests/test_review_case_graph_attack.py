"""Review of the ring case's graph since the case page speaks Chinese too: the graph colours
each identifier by its kind (a card purple, a building amber) whatever the page's language,
and its own words follow the page's language."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from antiscalper import linking
from antiscalper.case_graph import COLOURS, WIDTH
from antiscalper.models import RingCase
from antiscalper.tests.risk_helpers import age, attempt, judge, pay_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def card_case(make_customer, sku) -> RingCase:
    """Four accounts paying with one card: a ring tied by its payment link."""
    accounts = [make_customer() for _ in range(4)]
    for account in accounts:
        age(account, days=300)
        pay_with(account, sku, "4111 1111 1111 1111")
    judge(*[attempt(a.user_id, after_ms=3000 + 800 * n) for n, a in enumerate(accounts)])
    linking.linking_run(sale_id=1)
    return RingCase.objects.get()


def graph_of(case: RingCase, viewer, language: str) -> str:
    client = Client()
    client.force_login(viewer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get(f"/admin/antiscalper/ringcase/{case.pk}/change/").content.decode()
    return html.split(f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}"', 1)[1].split(
        "</svg>", 1)[0]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_card_is_drawn_in_the_cards_colour_in_either_language(card_case, make_staff,
                                                                 language):
    graph = graph_of(card_case, make_staff("antiscalper.view_ringcase"), language)
    assert f'fill="{COLOURS["payment"]}"' in graph


def test_the_graph_speaks_the_pages_chinese(card_case, make_staff):
    graph = graph_of(card_case, make_staff("antiscalper.view_ringcase"), "zh-hans")
    assert "Accounts of the case" not in graph
