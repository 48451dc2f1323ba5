"""The report's pages in both languages: report.html (English, the name every link and tool
has used) and report.zh-hans.html (Simplified Chinese, the store's own language), each with
its figure (timeline.png, timeline.zh-hans.png).

Why two files and not a switch in one page: the page is a static file read from disk or a
CI artifact, with no server to choose a language, and the figure is a PNG with its words
drawn in. The record (report.json) and the terminal stay English: machines and engineers
read them.
"""

from __future__ import annotations

from pathlib import Path

from django.utils import translation

from loadtests.double11 import charts, figures
from loadtests.double11.plan import Plan
from loadtests.double11.sizing import capacity_assumptions

LANGUAGES = (charts.ENGLISH, charts.CHINESE)


def _in_language(result: dict, plan: Plan, database: str) -> dict:
    """The record as the page of the active language shows it: the capacity model's
    assumptions are sentences made from the plan, so they are made again in its words."""
    capacity = result.get("capacity") or {}
    if "assumptions" not in capacity:
        return result
    return {**result, "capacity": {**capacity, "assumptions": capacity_assumptions(
        plan, result["load"]["peak_reach"], database)}}


def write(result: dict, plan: Plan, out_dir: Path, *, database: str) -> dict:
    """Draw each language's figure and write its page; what was written, per language:
    {"page": file, "figure": file or None (no CJK font: the page shows the English one)}."""
    out_dir = Path(out_dir)
    written = {}
    for language in LANGUAGES:
        with translation.override(language):
            shown = _in_language(result, plan, database)
            figure = figures.write(shown, plan, out_dir, language=language)
            page = charts.page_for(language)
            (out_dir / page).write_text(charts.html(shown, language=language, figure=figure),
                                        encoding="utf-8")
        written[language] = {"page": page, "figure": figure}
    return written
