"""The report in both languages (issue 18, point 5): every run writes report.html (English)
and report.zh-hans.html (Chinese), each linking the other; the Chinese page has its own figure
drawn in a CJK font (no missing glyphs, labels measured in that font and never overlapping),
or says it has none; the record and the terminal stay English."""

from __future__ import annotations

import json
import os
import re
import warnings

import pytest
from django.utils import translation
from matplotlib import rc_context
from matplotlib.text import Text

from loadtests.double11 import figures, fonts, report, terminal
from loadtests.double11.run import Options, prepare
from loadtests.double11.tests.records import a_plan, a_record

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def built(tmp_path, db):
    plan = prepare(Options(scale=0.00005, time_scale=0.02, min_phase_s=2, seed=3), tmp_path)
    return report.build(plan, [], tmp_path), tmp_path


def test_every_run_writes_both_pages_each_linking_the_other(built):
    result, out = built
    english = (out / "report.html").read_text()
    chinese = (out / "report.zh-hans.html").read_text(encoding="utf-8")

    assert result["pages"]["en"] == {"page": "report.html", "figure": "timeline.png"}
    assert result["pages"]["zh-hans"] == {"page": "report.zh-hans.html",
                                          "figure": "timeline.zh-hans.png"}
    assert '<html lang="en">' in english and '<html lang="zh-CN">' in chinese
    assert 'id="language" href="report.zh-hans.html"' in english
    assert 'id="language" href="report.html"' in chinese
    # the link comes before the headline, the headline before every section
    for page in (english, chinese):
        assert page.index('id="language"') < page.index('class="headline"') < page.index("<h2>")
    assert 'src="timeline.png"' in english and 'src="timeline.zh-hans.png"' in chinese
    assert (out / "timeline.zh-hans.png").read_bytes()[:4] == b"\x89PNG"
    assert "商店守住了" in chinese or "商店未能守住" in chinese
    assert "达成" in chinese and "未达成" in chinese


def test_the_record_and_the_terminal_stay_english_whatever_language_is_active(built):
    result, out = built
    with translation.override("zh-hans"):
        summary = terminal.summary(result)
    saved = (out / "report.json").read_text()

    assert not HAN.search(summary) and not HAN.search(saved)
    assert json.loads(saved)["headline"]["verdict"].startswith("The store")
    assert summary.splitlines()[0] == result["headline"]["verdict"]


def test_the_chinese_page_says_verdicts_target_names_and_headings_in_chinese(built):
    result, out = built
    chinese = (out / "report.zh-hans.html").read_text(encoding="utf-8")
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", chinese)

    for word in ("met", "MISSED", "BROKEN", "target", "verdict", "goal"):
        assert word not in cells, word
    assert "目标" in cells and "结论" in cells
    names = [t["target"] for t in result["targets"]]
    assert names and not [name for name in names if name in cells]
    # codes stay codes: an invariant's name, a persona
    assert "holding_within_stock" in chinese and ">fan<" in chinese


@pytest.mark.parametrize("time_scale,min_phase_s", [(0.02, 2.0), (0.001, 0.5), (0.0001, 0.0),
                                                    (1.0, 5.0)])
def test_chinese_labels_are_measured_in_the_cjk_font_and_never_overlap(time_scale, min_phase_s):
    font = fonts.cjk_font()
    if font is None:  # as the browser tests do: CI installs the font and must not skip
        missing = pytest.fail if os.environ.get("BROWSER_TESTS_REQUIRED") else pytest.skip
        missing("no CJK font here (apt-get install fonts-wqy-microhei); the fallback has "
                "its own test")
    plan = a_plan(time_scale=time_scale, min_phase_s=min_phase_s)
    record = a_record(sell_out_s=1.4, settled_by_s=1.6, checked_at_s=1.8)
    # the figure's own fonts, as figures.write sets them; a font resolves when it is used, so
    # everything is measured inside
    with (translation.override("zh-hans"), rc_context(fonts.font_style(font)),
          warnings.catch_warnings()):
        warnings.simplefilter("error")      # "Glyph ... missing from font": boxes drawn
        fig = figures.timeline(record, plan)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for gid in ("phase-label", "event-label"):
            texts = [t for t in fig.findobj(Text) if t.get_gid() == gid]
            assert texts and all(HAN.search(t.get_text()) for t in texts), gid
            assert {t.get_fontname() for t in texts} == {font}
            found = [t.get_window_extent(renderer) for t in texts]
            assert not [(a, b) for n, a in enumerate(found) for b in found[n + 1:]
                        if a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1], gid
    panels = [ax for ax in fig.axes if ax.get_ylabel()]
    assert len(panels) == 7 and all(HAN.search(ax.get_title(loc="left")) for ax in panels)


def test_without_a_cjk_font_the_chinese_page_shows_the_english_figure_and_says_so(
        tmp_path, monkeypatch, db):
    monkeypatch.setattr(fonts, "cjk_font", lambda: None)
    plan = prepare(Options(scale=0.00005, time_scale=0.02, min_phase_s=2, seed=3), tmp_path)

    result = report.build(plan, [], tmp_path)

    assert result["pages"]["zh-hans"]["figure"] is None
    assert not (tmp_path / "timeline.zh-hans.png").exists()
    page = (tmp_path / "report.zh-hans.html").read_text(encoding="utf-8")
    assert 'src="timeline.png"' in page and 'id="no-font"' in page
    assert "本机未找到含中文字符的字体" in page
    assert 'id="no-font"' not in (tmp_path / "report.html").read_text()
