"""What the tests of the ops admin in its two languages share (sales/tests/test_admin_languages.py
and the browser's, sales/web/tests/test_admin_languages.py): the cookie that chooses Chinese,
the pages of one sale's world, and a check that no English sentence of our catalogue is left
on a Chinese page."""

from __future__ import annotations

import re

from core.tests.catalogue import english_left

LANGUAGES = ("zh-hans", "en")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Shorter messages ("left", "status", "Open") are words that data may hold too.
SHORTEST_CHECKED = 11


def untranslated(visible_text: str, data: tuple[str, ...] = ()) -> list[str]:
    """The catalogue's English sentences that a page's visible text still shows, once the
    records' own words (`data`: a decision's recorded reason, a shopper's message) are left
    out: those are what was recorded, in the language it was recorded in."""
    text = " ".join(visible_text.split())
    for recorded in data:
        text = text.replace(" ".join(recorded.split()), " ")
    return english_left(text, shortest=SHORTEST_CHECKED)


def recorded_words(world: dict) -> tuple[str, ...]:
    """The words the records of a world hold (sales.tests.admin_world.sale_rows)."""
    return (world["decision"].reason, world["appeal"].message, world["entry"].reason)


def world_pages(world: dict) -> dict[str, str]:
    """The admin pages of one sale's world (sales.tests.admin_world.sale_rows), by name."""
    sale, case = world["sale"], world["case"]
    return {
        "dashboard": f"/admin/sales/flashsale/{sale.pk}/dashboard/",
        "sale": f"/admin/sales/flashsale/{sale.pk}/change/",
        "sale-form": "/admin/sales/flashsale/add/",
        "decision": f"/admin/antiscalper/riskdecision/{world['decision'].pk}/change/",
        "appeal": f"/admin/antiscalper/appeal/{world['appeal'].pk}/change/",
        "case": f"/admin/antiscalper/ringcase/{case.pk}/change/",
        "case-confirm": f"/admin/antiscalper/ringcase/sale/{sale.pk}/{case.pk}/confirm/",
        "flags": "/admin/antiscalper/riskdecision/",
        "cases": "/admin/antiscalper/ringcase/",
        "appeals": "/admin/antiscalper/appeal/",
        "sales": "/admin/sales/flashsale/",
        "rules": "/admin/antiscalper/rulesetting/",
        "summary": f"/admin/antiscalper/riskdecision/summary/?sale={sale.pk}",
    }
