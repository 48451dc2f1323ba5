"""The ops admin in English and in Simplified Chinese (issue 18, points 4 and 6): an ops
person who chooses 中文 reads every page of ours in Chinese, Django's words and ours alike,
with no English sentence of the catalogue left over; English stays the default; the header
switches between the two; and a view-only account sees no answer button in either language."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client

from antiscalper.models import RuleSetting
from sales.models import FlashSale
from sales.tests.admin_languages import (
    CJK,
    LANGUAGES,
    recorded_words,
    untranslated,
    world_pages,
)
from sales.tests.sale_forms import sale_form
from shop.tests.fixtures import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules_seeded")]

# The answers' buttons and links, in each language: none of them for a view-only account.
ANSWERS = {"en": ("Confirm: blacklist the account and device",
                  "Clear: a false positive, allowlist the account",
                  "Uphold: allowlist it and lift its blacklist entries", "Reject: keep it blocked",
                  "Confirm the ring", "Clear the case"),
           "zh-hans": ("确认：将账号和设备加入黑名单", "清除：误判，将账号加入白名单",
                       "申诉成立：加入白名单并解除其黑名单记录", "驳回：继续受限", "确认团伙",
                       "清除案件")}
ANSWER_URLS = re.compile(r'action="[^"]*/(confirm|clear|uphold|reject)/"|'
                         r'href="[^"]*/ringcase/sale/\d+/\d+/(confirm|clear)/"')


class _Visible(HTMLParser):
    """The text a reader sees: text outside scripts and styles, and the buttons' values."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._hidden += 1
        values = dict(attrs)
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.parts.append(values["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template"):
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible(response) -> str:
    parser = _Visible()
    parser.feed(response.content.decode())
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture
def planner(make_staff):
    """Who schedules sales (ops only read them)."""
    return make_staff("sales.view_flashsale", "sales.add_flashsale", "sales.change_flashsale",
                      "shop.view_sku")


def browser_of(user, language: str | None) -> Client:
    client = Client()
    client.force_login(user)
    if language:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def threshold_confirmation(client: Client):
    """The confirmation page a threshold edit stops at (nothing saved yet)."""
    setting = RuleSetting.objects.get(code="fast_after_open")
    return client.post(f"/admin/antiscalper/rulesetting/{setting.pk}/change/", {
        "enabled": "on", "threshold": "300", "weight": setting.weight, "action": setting.action,
        "description": "", "_save": "Save"})


PAGES = ("dashboard", "sale", "sale-form", "decision", "appeal", "case", "case-confirm",
         "flags", "cases", "appeals", "sales", "rules", "summary")


@pytest.mark.parametrize("name", PAGES)
def test_every_page_of_ours_in_chinese_leaves_no_english_sentence_of_the_catalogue(
        ops_world, ops_desk, planner, name):
    reader = planner if name.startswith("sale") else ops_desk
    response = browser_of(reader, "zh-hans").get(world_pages(ops_world)[name])
    assert response.status_code == 200
    assert '<html lang="zh-hans"' in response.content.decode()
    text = visible(response)
    assert len(CJK.findall(text)) > 40, f"{name} is hardly Chinese: {text[:300]}"
    left = untranslated(text, recorded_words(ops_world))
    assert not left, f"{name} still says, in English: {left}"


def test_the_threshold_confirmation_in_chinese_shows_the_old_and_new_value(ops_desk):
    response = threshold_confirmation(browser_of(ops_desk, "zh-hans"))
    text = visible(response)
    assert response.status_code == 200 and "tuning-changes" in response.content.decode()
    assert "阈值 250.0 300.0" in text and "是，确认修改" in text
    assert not untranslated(text), untranslated(text)
    assert RuleSetting.objects.get(code="fast_after_open").threshold == 250


@pytest.mark.parametrize("name", ("dashboard", "decision", "appeal", "case", "sale-form"))
def test_without_a_choice_the_admin_speaks_english(ops_world, ops_desk, planner, name):
    reader = planner if name.startswith("sale") else ops_desk
    response = browser_of(reader, None).get(world_pages(ops_world)[name])
    text = visible(response)
    assert response.status_code == 200 and '<html lang="en"' in response.content.decode()
    assert CJK.findall(text) == list("中文"), f"{name}: Chinese besides the switch"


def test_the_header_switches_to_chinese_and_back_to_the_same_page(ops_world, ops_desk):
    client = browser_of(ops_desk, None)
    page = world_pages(ops_world)["decision"]
    body = client.get(page).content.decode()
    switch = re.search(r'href="(/language/zh-hans/\?next=[^"]+)"', body).group(1)
    answer = client.get(switch.replace("&amp;", "&"))
    assert answer.status_code == 302 and answer["Location"] == page
    chinese = visible(client.get(page))
    assert "风控决策" in chinese and "触发的规则" in chinese and "English" in chinese
    client.get("/language/en/?next=" + page)
    assert "Rules that fired" in visible(client.get(page))


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_view_only_account_sees_no_answer_in_either_language(ops_world, make_staff, language):
    reader = make_staff("antiscalper.view_riskdecision", "antiscalper.view_appeal",
                        "antiscalper.view_ringcase", "sales.view_flashsale")
    client, pages = browser_of(reader, language), world_pages(ops_world)
    for name in ("decision", "appeal", "case"):
        response = client.get(pages[name])
        html, text = response.content.decode(), visible(response)
        assert response.status_code == 200 and ops_world["shopper"].user.username in text
        assert not ANSWER_URLS.search(html), f"{name}: an answer's address for a reader"
        shown = [words for words in ANSWERS["en"] + ANSWERS["zh-hans"] if words in text]
        assert not shown, f"{name} in {language} offers {shown}"
    assert client.get(pages["case-confirm"]).status_code == 403
    assert client.post(pages["decision"].replace("change/", "confirm/")).status_code == 403


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_desk_sees_every_answer_in_its_language(ops_world, ops_desk, language):
    """The other side of the one above: the same pages offer each answer to the ops group."""
    client, pages = browser_of(ops_desk, language), world_pages(ops_world)
    text = " ".join(visible(client.get(pages[name])) for name in ("decision", "appeal", "case"))
    assert all(words in text for words in ANSWERS[language]), text[:400]
    other = "en" if language == "zh-hans" else "zh-hans"
    assert not [words for words in ANSWERS[other] if words in text]


def test_a_sale_check_reads_chinese_in_admin_and_stays_english_in_the_api(
        planner, superuser, make_sale, sku):
    """The services word the refusal where they make it (sales.services): the admin's form
    shows it in its reader's language, the API in its contract's English, cookie or not."""
    sale = make_sale(load=False, starts_in=3600)
    api = client_for(superuser)
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    refused = api.patch(f"/api/v1/ops/sales/{sale.pk}", {"deposit": "100.00"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith("Only a deposit pre-sale has a deposit")
    assert not CJK.search(json.dumps(refused.json()["error"], ensure_ascii=False))
    form = browser_of(planner, "zh-hans").post("/admin/sales/flashsale/add/",
                                               sale_form(sku, deposit="100.00"))
    assert form.status_code == 200
    assert "只有定金预售才有定金和尾款时间" in visible(form)
    sale.refresh_from_db()
    assert sale.deposit is None and FlashSale.objects.count() == 1
