"""The Double-11 report as a reader opens it (issue 18, points 5 and 6): both pages, in headless
Chromium on a desktop (1280x800) and a phone (390x844). The headline is the first thing on the
screen and its verdict visible; the figure loads; Locust's report and the other language are
linked; nothing is wider than the phone; the Chinese page leaves none of the catalogue's
English sentences, the English page has no Chinese but its link to the Chinese one. A
screenshot of each for people to look at (var/screenshots/report-<language>-<viewport>.png).

The pages are static files: opened as file URLs, no live server. The invariant reads the
catalogue itself, so a sentence added to the report without its Chinese fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from core.tests.catalogue import english_sentences
from loadtests.double11 import report
from loadtests.double11.run import Options, prepare
from sales.web.tests.browser import TIMEOUT_MS

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SCREENSHOTS = Path(settings.VAR_DIR) / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
PAGES = {"en": "report.html", "zh": "report.zh-hans.html"}
HAN = re.compile(r"[\u4e00-\u9fff]")
LITERAL_MIN = 14  # as the storefront's check: shorter fragments may be a name or a code


ENGLISH = english_sentences(shortest=LITERAL_MIN)


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A small report (a prepared plan, no Locust run) and a Locust report beside it; built
    for each test, so that its rows go with the test's transaction."""
    plan = prepare(Options(scale=0.00005, time_scale=0.02, min_phase_s=2, seed=3), tmp_path)
    (tmp_path / "locust.html").write_text("<html><body>Locust</body></html>")
    report.build(plan, [], tmp_path)
    return tmp_path


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("language", PAGES)
def test_the_report_reads_first_its_headline_in_one_language_and_fits_its_screen(
        language, viewport, run_dir, browser, expect):
    size = VIEWPORTS[viewport]
    context = browser.new_context(viewport=size, is_mobile=viewport == "phone",
                                  locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    errors = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((run_dir / PAGES[language]).as_uri())

        # the headline first: its box starts within the first screen, its verdict on it
        headline = page.locator("section.headline")
        expect(headline).to_be_visible()
        box = headline.bounding_box()
        verdict = page.locator("section.headline > p").bounding_box()
        assert box["y"] < size["height"] and verdict["y"] + verdict["height"] <= size["height"]
        above = page.evaluate("""() => [...document.body.querySelectorAll('h2, table, img')]
            .filter(e => e.getBoundingClientRect().top
                     < document.querySelector('section.headline').getBoundingClientRect().top)
            .length""")
        assert above == 0
        expect(page.locator("section.headline > p")).to_have_class(re.compile(r"\b(ok|bad)\b"))
        # the figure loaded, in this language's file
        figure = page.locator("img#timeline")
        expect(figure).to_have_attribute(
            "src", "timeline.png" if language == "en" else "timeline.zh-hans.png")
        figure.scroll_into_view_if_needed()
        page.wait_for_function("document.querySelector('img#timeline').complete")
        assert page.evaluate("document.querySelector('img#timeline').naturalWidth") > 0
        # Locust's report and the other language, linked
        expect(page.locator('a[href="locust.html"]')).to_have_count(1)
        switch = page.locator("a#language")
        expect(switch).to_have_attribute(
            "href", "report.zh-hans.html" if language == "en" else "report.html")
        expect(switch).to_have_text("中文" if language == "en" else "English")
        # one language
        text = page.locator("body").inner_text()
        if language == "zh":
            assert HAN.search(text)
            left = [sentence for sentence in ENGLISH if sentence in text]
            assert not left, f"English left on the Chinese report: {left}"
        else:
            assert any(sentence in text for sentence in ENGLISH)   # the check has words to find
            rest = text.replace("中文", "")
            assert not HAN.search(rest), f"Chinese on the English report: {HAN.findall(rest)}"
        # nothing wider than the screen (wide tables scroll in their own box)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= size["width"], f"the {language} report is {wide} px wide on a {viewport}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"report-{language}-{viewport}.png"),
                        full_page=True)
    finally:
        context.close()
    assert not errors, f"script errors on the page: {errors}"


def test_the_language_link_leads_to_the_other_page(run_dir, browser, expect):
    context = browser.new_context(viewport=VIEWPORTS["phone"], is_mobile=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto((run_dir / PAGES["en"]).as_uri())
        page.locator("a#language").click()
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        page.locator("a#language").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
    finally:
        context.close()


def test_the_catalogue_gives_this_module_the_reports_sentences_to_look_for():
    """The check above is only as good as its list: the report's own sentences are in it."""
    assert "Who got the stock: nobody (no unit held at the end" in ENGLISH
    assert any(sentence.startswith("Every panel shares the seconds from T0") for sentence
               in ENGLISH)
