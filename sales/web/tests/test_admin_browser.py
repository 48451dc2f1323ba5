"""The ops admin in a real browser (headless Chromium at 1280x800) against a live server, as
an ops person: the lists name people and sales and fit the screen, a sale's dashboard, a
decision and an appeal answered with their buttons, a threshold changed behind its
confirmation, and the sale form showing only its mode's terms.

Each test writes screenshots of the pages it opens to var/screenshots/ (git-ignored) for
people to look at."""

from __future__ import annotations

import pytest
from django.conf import settings

from antiscalper.models import AllowlistEntry, Appeal, BlacklistEntry, RiskDecision, RuleSetting
from sales.models import FlashSale
from sales.tests.admin_world import sale_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("rules_seeded")]

SCREENSHOTS = settings.VAR_DIR / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
# The list's table against the box it sits in: wider would mean a horizontal scrollbar.
OVERFLOW = """() => { const box = document.querySelector('.results');
                      return box.scrollWidth - box.clientWidth; }"""


@pytest.fixture
def page_as(pages):
    """A page at 1280x800 logged in as `user`."""
    return lambda user: pages(user, viewport=VIEWPORT)


@pytest.fixture
def world(make_customer, make_sale, make_order):
    rows = [sale_rows(make_customer=make_customer, make_sale=make_sale, make_order=make_order)
            for _ in range(3)]
    return rows[-1]


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"admin-{name}.png"), full_page=True)


@pytest.mark.parametrize(("name", "path"), [
    ("sales", "sales/flashsale/"), ("orders", "shop/order/"),
    ("flags", "antiscalper/riskdecision/"), ("cases", "antiscalper/ringcase/"),
    ("appeals", "antiscalper/appeal/"), ("blacklist", "antiscalper/blacklistentry/"),
    ("rules", "antiscalper/rulesetting/"), ("payments", "shop/payment/"),
])
def test_each_list_names_people_and_sales_and_fits_1280_pixels(page_as, ops_desk, world,
                                                               expect, name, path):
    page = page_as(ops_desk)
    page.goto(f"/admin/{path}")
    expect(page.locator("#result_list")).to_be_visible()
    if name in ("orders", "flags", "cases"):
        expect(page.locator("#result_list").get_by_role(
            "link", name=world["sale"].title)).to_be_visible()
    if name in ("orders", "flags", "appeals", "payments"):
        expect(page.locator("#result_list")).to_contain_text(world["shopper"].user.username)
    shoot(page, f"list-{name}")
    assert page.evaluate(OVERFLOW) <= 0, f"the {name} list is wider than its box at 1280 px"


def test_a_sales_dashboard_is_one_click_from_its_page(page_as, ops_desk, world, expect):
    sale = world["sale"]
    page = page_as(ops_desk)
    page.goto(f"/admin/sales/flashsale/{sale.pk}/change/")
    shoot(page, "sale-page")
    page.locator(".object-tools").get_by_role("link", name="Dashboard").click()
    page.wait_for_url(f"**/admin/sales/flashsale/{sale.pk}/dashboard/")
    expect(page.locator('[data-figure="expired"]')).to_have_text("1")
    expect(page.locator('[data-figure="flagged"]')).to_have_text("1")
    expect(page.locator('[data-figure="cases"]')).to_have_text("1")
    expect(page.locator('[data-figure="scalper-share"]')).to_have_text("unknown")
    expect(page.locator(".dashboard-charts svg")).to_have_count(3)
    shoot(page, "dashboard")


def test_ops_confirm_a_flag_from_its_page_and_the_button_goes(page_as, ops_desk, world,
                                                              expect):
    decision = world["decision"]
    page = page_as(ops_desk)
    page.goto("/admin/antiscalper/riskdecision/")
    page.locator("#result_list").get_by_role("link", name=str(decision.pk), exact=True).click()
    rules = page.locator("table.rules-fired")
    expect(rules).to_contain_text("headless_agent")
    expect(rules).to_contain_text("Automation markers in the user agent")
    expect(rules.locator("tbody tr")).to_have_count(2)
    shoot(page, "decision")
    page.get_by_role("button", name="Confirm: blacklist the account and device").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Decision #{decision.pk}: confirmed")
    expect(page.get_by_role("button", name="Confirm: blacklist the account and device")) \
        .to_have_count(0)
    expect(page.locator(".decision-facts")).to_contain_text(
        f"Confirmed and blacklisted by {ops_desk.username}")
    assert RiskDecision.objects.get(pk=decision.pk).review_status == "confirmed"


def test_ops_uphold_an_appeal_with_a_note(page_as, ops_desk, world, expect):
    appeal = world["appeal"]
    page = page_as(ops_desk)
    page.goto(f"/admin/antiscalper/appeal/{appeal.pk}/change/")
    expect(page.locator(".appeal-message")).to_have_text("I am a real fan, honest.")
    expect(page.locator("table.rules-fired")).to_contain_text("device_accounts")
    shoot(page, "appeal")
    uphold = page.locator("form", has=page.get_by_role("button", name="Uphold: allowlist it "
                                                                     "and lift its blacklist "
                                                                     "entries"))
    uphold.get_by_label("Note to record with the answer (optional)").fill("Long-time fan")
    uphold.get_by_role("button").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Appeal #{appeal.pk} upheld")
    expect(page.locator(".appeal-facts")).to_contain_text("Long-time fan")
    assert Appeal.objects.get(pk=appeal.pk).status == "upheld"
    assert AllowlistEntry.objects.filter(kind="account", value=str(appeal.user_id)).exists()
    assert not BlacklistEntry.objects.filter(kind="account", value=str(appeal.user_id),
                                             is_active=True).exists()


def test_ops_change_a_threshold_only_after_seeing_old_and_new(page_as, ops_desk, expect):
    setting = RuleSetting.objects.get(code="fast_after_open")
    page = page_as(ops_desk)
    page.goto(f"/admin/antiscalper/rulesetting/{setting.pk}/change/")
    page.locator("#id_threshold").fill("300")
    page.get_by_role("button", name="Save", exact=True).click()
    changes = page.locator("table.tuning-changes")
    expect(changes).to_contain_text("threshold")
    expect(changes.locator("td").nth(0)).to_have_text("250.0")
    expect(changes.locator("td").nth(1)).to_have_text("300.0")
    shoot(page, "threshold-confirmation")
    assert RuleSetting.objects.get(pk=setting.pk).threshold == 250
    page.get_by_role("button", name="Yes, change it").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert RuleSetting.objects.get(pk=setting.pk).threshold == 300
    page.goto(f"/admin/antiscalper/rulesetting/{setting.pk}/history/")
    expect(page.locator("#change-history")).to_contain_text(
        "Changed threshold from 250 to 300.")


def test_the_sale_form_shows_only_the_terms_of_its_mode_and_keeps_the_others(
        page_as, make_staff, sku, expect):
    planner = make_staff("sales.view_flashsale", "sales.add_flashsale",
                         "sales.change_flashsale", "shop.view_sku")
    page = page_as(planner)
    page.goto("/admin/sales/flashsale/add/")
    deposit, quota = page.locator(".field-deposit"), page.locator(".field-fcode_quota")
    window = page.locator(".field-right_window")
    expect(deposit).to_be_hidden()
    expect(quota).to_be_visible()
    expect(window).to_be_hidden()
    page.locator("#id_mode").select_option("deposit")
    expect(deposit).to_be_visible()
    expect(page.locator(".field-balance_opens_at")).to_be_visible()
    page.locator("#id_deposit").fill("100.00")
    shoot(page, "sale-form-deposit")
    page.locator("#id_mode").select_option("draw")
    expect(deposit).to_be_hidden()
    expect(quota).to_be_hidden()
    expect(window).to_be_visible()
    shoot(page, "sale-form-draw")
    page.locator("#id_mode").select_option("open")
    expect(deposit).to_be_hidden()

    # An open rush sent with the deposit typed before is refused, on the field it names,
    # and that field shows (with its value) although an open rush has no deposit.
    page.locator("#id_title").fill("Mi 9 batch 3")
    page.locator("#id_sku").select_option(str(sku.pk))
    page.locator("#id_price").fill("2999.00")
    page.locator("#id_stock").fill("10")
    for field, day, time in (("starts_at", "2030-01-01", "10:00:00"),
                             ("ends_at", "2030-01-01", "12:00:00")):
        page.locator(f"#id_{field}_0").fill(day)
        page.locator(f"#id_{field}_1").fill(time)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".field-deposit")).to_be_visible()
    expect(page.locator(".field-deposit .errorlist")).to_contain_text(
        "Only a deposit pre-sale has a deposit")
    expect(page.locator("#id_deposit")).to_have_value("100.00")
    shoot(page, "sale-form-refused")
    assert not FlashSale.objects.exists()
    page.locator("#id_deposit").fill("")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    assert FlashSale.objects.get().mode == "open"
