"""The ops admin in a real browser in both its languages, on a 1280 px desktop and on a phone
(390x844), as an ops person works it (issue 18, points 4 and 6): a sale's dashboard, a
decision confirmed or cleared with its buttons, an appeal upheld or rejected, a ring case
confirmed through its confirmation page, a threshold changed behind its confirmation, the
sale form showing only its mode's terms, and the lists in Chinese at 1280 px. On every page:
the page's language and no English sentence of our catalogue on a Chinese page; the page
itself never scrolls sideways (a wide table scrolls inside its own box on a phone) and the
buttons an answer needs are on screen.

Each test writes screenshots to var/screenshots/ (git-ignored) for people to look at."""

from __future__ import annotations

import pytest
from django.conf import settings

from antiscalper.models import Appeal, RingCase, RiskDecision, RuleSetting
from sales.models import FlashSale
from sales.tests.admin_languages import CJK, recorded_words, untranslated, world_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("rules_seeded")]

SCREENSHOTS = settings.VAR_DIR / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
COMBINATIONS = [(language, viewport) for language in ("zh-hans", "en") for viewport in VIEWPORTS]
# How far the page itself scrolls sideways (0: it fits its window).
SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"

ANSWERED = {"confirm": "confirmed", "clear": "cleared", "uphold": "upheld",
            "reject": "rejected"}
# What each page says, in each language.
WORDS = {
    "zh-hans": {
        "dashboard": "看板", "unknown": "未知", "minutes": "逐分钟", "charts": "放行的尝试",
        "confirm": "确认：将账号和设备加入黑名单", "clear": "清除：误判，将账号加入白名单",
        "confirmed": "已确认，账号及其设备已加入黑名单", "cleared": "已作为误判清除",
        "rules": "触发的规则", "headless": "自动化特征",
        "uphold": "申诉成立：加入白名单并解除其黑名单记录", "reject": "驳回：继续受限",
        "note": "随处理结果记录的备注（可选）", "upheld": "已通过", "rejected": "已驳回",
        "ring": "确认团伙…", "yes_confirm": "是，确认团伙案件", "case_confirmed": "已确认团伙案件",
        "ties": "关联依据", "save": "保存", "threshold": "阈值", "yes_change": "是，确认修改",
        "changed": "成功", "mode_terms": "该模式的条款", "deposit_error": "只有定金预售",
        "added": "成功",
    },
    "en": {
        "dashboard": "Dashboard", "unknown": "unknown", "minutes": "Minute by minute",
        "charts": "Admitted attempts",
        "confirm": "Confirm: blacklist the account and device",
        "clear": "Clear: a false positive, allowlist the account",
        "confirmed": "confirmed, the account and its device blacklisted",
        "cleared": "cleared as a false positive", "rules": "Rules that fired",
        "headless": "Automation markers in the user agent",
        "uphold": "Uphold: allowlist it and lift its blacklist entries",
        "reject": "Reject: keep it blocked", "note": "Note to record with the answer (optional)",
        "upheld": "upheld", "rejected": "rejected", "ring": "Confirm the ring…",
        "yes_confirm": "Yes, confirm Case #", "case_confirmed": "Confirmed Case #",
        "ties": "What ties them", "save": "Save", "threshold": "threshold",
        "yes_change": "Yes, change it", "changed": "was changed successfully",
        "mode_terms": "Terms of the mode", "deposit_error": "Only a deposit pre-sale",
        "added": "was added successfully",
    },
}


@pytest.fixture
def page_in(pages, live_server):
    """A page logged in as `user`, in `language` (the admin's cookie, as its header's switch
    sets it), on a viewport."""
    def make(user, language: str, viewport: str):
        page = pages(user, viewport=VIEWPORTS[viewport], is_mobile=viewport == "phone",
                     has_touch=viewport == "phone")
        page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language,
                                   "url": live_server.url}])
        return page
    return make


def looked_at(page, expect, language: str, viewport: str, name: str, data=()) -> str:
    """The checks every page gets: its language, no English sentence of ours left on a
    Chinese page, nothing sideways; and a screenshot. Returns the page's visible text."""
    expect(page.locator("html")).to_have_attribute("lang", language)
    text = page.locator("body").inner_text()
    buttons = page.locator("input[type=submit]").evaluate_all("els => els.map(e => e.value)")
    shown = " ".join([text, *buttons])
    if language == "zh-hans":
        assert CJK.search(shown) and not untranslated(shown, data), \
            f"{name}: English left on the Chinese page: {untranslated(shown, data)}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"admin-{name}-{language}-{viewport}.png"),
                    full_page=True)
    assert page.evaluate(SIDEWAYS) <= 0, f"{name} scrolls sideways on the {viewport}"
    return shown


def on_screen(page, locator, viewport: str) -> None:
    """The control is visible and, scrolled to, lies wholly inside the window's width."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORTS[viewport]["width"], \
        f"{locator} is off the {viewport}'s screen: {box}"


@pytest.mark.parametrize(("language", "viewport"), COMBINATIONS)
def test_a_sales_dashboard_in_each_language_and_screen(page_in, ops_desk, ops_world, expect,
                                                       language, viewport):
    words, sale = WORDS[language], ops_world["sale"]
    page = page_in(ops_desk, language, viewport)
    page.goto(world_pages(ops_world)["sale"])
    page.locator(".object-tools").get_by_role("link", name=words["dashboard"]).click()
    page.wait_for_url(f"**/admin/sales/flashsale/{sale.pk}/dashboard/")
    expect(page.locator("h1")).to_contain_text(sale.title)
    expect(page.locator('[data-figure="expired"]')).to_have_text("1")
    expect(page.locator('[data-figure="flagged"]')).to_have_text("1")
    expect(page.locator('[data-figure="scalper-share"]')).to_have_text(words["unknown"])
    expect(page.get_by_role("heading", name=words["minutes"])).to_be_visible()
    expect(page.locator(f'.dashboard-charts svg[aria-label="{words["charts"]}"]')) \
        .to_have_count(1)
    looked_at(page, expect, language, viewport, "dashboard")
    chart = page.locator(".dashboard-charts svg").first.bounding_box()
    assert chart["width"] <= VIEWPORTS[viewport]["width"], "a chart wider than the screen"


@pytest.mark.parametrize(("language", "viewport"), COMBINATIONS)
@pytest.mark.parametrize("answer", ["confirm", "clear"])
def test_a_decision_answered_with_its_button(page_in, ops_desk, ops_world, expect, language,
                                             viewport, answer):
    words, decision = WORDS[language], ops_world["decision"]
    page = page_in(ops_desk, language, viewport)
    page.goto(world_pages(ops_world)["decision"])
    expect(page.get_by_role("heading", name=words["rules"])).to_be_visible()
    rules = page.locator("table.rules-fired")
    expect(rules).to_contain_text("headless_agent")  # the rule's code: an identifier
    expect(rules).to_contain_text(words["headless"])
    looked_at(page, expect, language, viewport, f"decision-{answer}",
              recorded_words(ops_world))
    button = page.get_by_role("button", name=words[answer])
    on_screen(page, button, viewport)
    on_screen(page, page.get_by_role("button", name=words["clear" if answer == "confirm"
                                                          else "confirm"]), viewport)
    button.click()
    expect(page.locator(".messagelist")).to_contain_text(words[ANSWERED[answer]])
    expect(page.get_by_role("button", name=words["confirm"])).to_have_count(0)
    expect(page.get_by_role("button", name=words["clear"])).to_have_count(0)
    looked_at(page, expect, language, viewport, f"decision-{ANSWERED[answer]}",
              recorded_words(ops_world))
    assert RiskDecision.objects.get(pk=decision.pk).review_status == ANSWERED[answer]


@pytest.mark.parametrize(("language", "viewport"), COMBINATIONS)
@pytest.mark.parametrize("answer", ["uphold", "reject"])
def test_an_appeal_answered_with_a_note(page_in, ops_desk, ops_world, expect, language, viewport,
                                        answer):
    words, appeal = WORDS[language], ops_world["appeal"]
    page = page_in(ops_desk, language, viewport)
    page.goto(world_pages(ops_world)["appeal"])
    expect(page.locator(".appeal-message")).to_have_text("I am a real fan, honest.")
    looked_at(page, expect, language, viewport, f"appeal-{answer}", recorded_words(ops_world))
    form = page.locator("form", has=page.get_by_role("button", name=words[answer]))
    form.get_by_label(words["note"]).fill("Long-time fan")
    on_screen(page, form.get_by_role("button"), viewport)
    form.get_by_role("button").click()
    expect(page.locator(".messagelist")).to_contain_text(words[ANSWERED[answer]])
    expect(page.locator(".appeal-facts")).to_contain_text("Long-time fan")
    expect(page.get_by_role("button", name=words["uphold"])).to_have_count(0)
    looked_at(page, expect, language, viewport, f"appeal-{ANSWERED[answer]}",
              recorded_words(ops_world))
    assert Appeal.objects.get(pk=appeal.pk).status == ANSWERED[answer]


@pytest.mark.parametrize(("language", "viewport"), COMBINATIONS)
def test_a_ring_case_confirmed_through_its_confirmation_page(page_in, ops_desk, ops_world, expect,
                                                             language, viewport):
    words, case = WORDS[language], ops_world["case"]
    page = page_in(ops_desk, language, viewport)
    page.goto(world_pages(ops_world)["case"])
    expect(page.get_by_role("heading", name=words["ties"])).to_be_visible()
    expect(page.locator("#content-main")).to_contain_text(ops_world["shopper"].user.username)
    looked_at(page, expect, language, viewport, "case", recorded_words(ops_world))
    link = page.get_by_role("link", name=words["ring"])
    on_screen(page, link, viewport)
    link.click()
    yes = page.get_by_role("button", name=words["yes_confirm"])
    on_screen(page, yes, viewport)
    looked_at(page, expect, language, viewport, "case-confirm", recorded_words(ops_world))
    assert RingCase.objects.get(pk=case.pk).status == "open"  # asked, not done
    yes.click()
    expect(page.locator(".messagelist")).to_contain_text(words["case_confirmed"])
    assert RingCase.objects.get(pk=case.pk).status == "confirmed"


@pytest.mark.parametrize(("language", "viewport"), COMBINATIONS)
def test_a_threshold_changes_only_after_its_confirmation(page_in, ops_desk, expect, language,
                                                         viewport):
    words = WORDS[language]
    setting = RuleSetting.objects.get(code="fast_after_open")
    page = page_in(ops_desk, language, viewport)
    page.goto(f"/admin/antiscalper/rulesetting/{setting.pk}/change/")
    looked_at(page, expect, language, viewport, "rule-setting")
    page.locator("#id_threshold").fill("300")
    page.get_by_role("button", name=words["save"], exact=True).click()
    changes = page.locator("table.tuning-changes")
    expect(changes).to_contain_text(words["threshold"])
    expect(changes.locator("td").nth(0)).to_have_text("250.0")
    expect(changes.locator("td").nth(1)).to_have_text("300.0")
    yes = page.get_by_role("button", name=words["yes_change"])
    on_screen(page, yes, viewport)
    looked_at(page, expect, language, viewport, "threshold-confirmation")
    assert RuleSetting.objects.get(pk=setting.pk).threshold == 250
    yes.click()
    expect(page.locator(".messagelist")).to_contain_text(words["changed"])
    assert RuleSetting.objects.get(pk=setting.pk).threshold == 300


@pytest.mark.parametrize(("language", "viewport"), COMBINATIONS)
def test_the_sale_form_shows_its_modes_terms_and_refuses_a_stray_one(
        page_in, make_staff, sku, expect, language, viewport):
    words = WORDS[language]
    planner = make_staff("sales.view_flashsale", "sales.add_flashsale",
                         "sales.change_flashsale", "shop.view_sku")
    page = page_in(planner, language, viewport)
    page.goto("/admin/sales/flashsale/add/")
    expect(page.get_by_role("heading", name=words["mode_terms"])).to_be_visible()
    deposit, window = page.locator(".field-deposit"), page.locator(".field-right_window")
    expect(deposit).to_be_hidden()
    page.locator("#id_mode").select_option("deposit")
    expect(deposit).to_be_visible()
    page.locator("#id_deposit").fill("100.00")
    looked_at(page, expect, language, viewport, "sale-form-deposit")
    page.locator("#id_mode").select_option("draw")
    expect(deposit).to_be_hidden()
    expect(window).to_be_visible()
    page.locator("#id_mode").select_option("open")
    page.locator("#id_title").fill("Mi 9 batch 3")
    page.locator("#id_sku").select_option(str(sku.pk))
    page.locator("#id_price").fill("2999.00")
    page.locator("#id_stock").fill("10")
    for field, day, time in (("starts_at", "2030-01-01", "10:00:00"),
                             ("ends_at", "2030-01-01", "12:00:00")):
        page.locator(f"#id_{field}_0").fill(day)
        page.locator(f"#id_{field}_1").fill(time)
    save = page.get_by_role("button", name=words["save"], exact=True)
    on_screen(page, save, viewport)
    save.click()
    expect(page.locator(".field-deposit .errorlist")).to_contain_text(words["deposit_error"])
    looked_at(page, expect, language, viewport, "sale-form-refused")
    assert not FlashSale.objects.exists()
    page.locator("#id_deposit").fill("")
    page.get_by_role("button", name=words["save"], exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text(words["added"])
    assert FlashSale.objects.get().mode == "open"


@pytest.mark.parametrize("name", ["sales", "flags", "cases", "appeals", "rules"])
def test_each_list_in_chinese_fits_1280_pixels(page_in, ops_desk, ops_world, expect, name):
    page = page_in(ops_desk, "zh-hans", "desktop")
    page.goto(world_pages(ops_world)[name])
    expect(page.locator("#result_list")).to_be_visible()
    looked_at(page, expect, "zh-hans", "desktop", f"list-{name}", recorded_words(ops_world))
    wider = page.evaluate("""() => { const box = document.querySelector('.results');
                                     return box.scrollWidth - box.clientWidth; }""")
    assert wider <= 0, f"the {name} list is wider than its box at 1280 px in Chinese"
