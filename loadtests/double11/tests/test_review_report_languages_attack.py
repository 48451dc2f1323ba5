"""Review of the report in two languages: a record whose strings are hostile (a Locust
endpoint's name, a persona, an invariant's detail, the Locust report's file name, with `<`,
`&` and quotes) is text on both pages; and the record and the terminal stay English while
the process's active language is Chinese."""

from __future__ import annotations

import copy
import re

import pytest
from django.utils import translation

from loadtests.double11 import charts, report, terminal
from loadtests.double11.run import Options, prepare

HOSTILE = '"><img src=x onerror=alert(1)>&amp;<script>alert(1)</script>'
RAW = ("<img src=x", "<script>alert")
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def built(tmp_path, db):
    plan = prepare(Options(scale=0.00005, time_scale=0.02, min_phase_s=2, seed=3), tmp_path)
    with translation.override("zh-hans"):  # as a process whose active language is Chinese
        result = report.build(plan, [], tmp_path)
    return result, tmp_path


def hostile(result: dict) -> dict:
    r = copy.deepcopy(result)
    r["load"]["endpoints"] = [*r["load"]["endpoints"], {
        "method": "GET", "name": f"/sales/{HOSTILE}", "requests": 1, "failures": 0, "rps": 0.1,
        "p50_ms": 1.0, "p95_ms": 1.0, "p99_ms": 1.0}]
    persona = next(iter(r["detection"]["by_persona"].values()))
    r["detection"]["by_persona"][f"fan{HOSTILE}"] = persona
    r["run"]["locust_report"], r["run"]["locust_report_written"] = f"l{HOSTILE}.html", True
    r["checks"]["rows"][0]["detail"] = f"detail{HOSTILE}"
    r["targets"][0]["target"] = f"target{HOSTILE}"
    return r


@pytest.mark.parametrize("language", charts.PAGES)
def test_hostile_strings_of_the_record_are_text_on_both_pages(built, language):
    result, _out = built
    page = charts.html(hostile(result), language=language, figure="timeline.png")
    assert f"/sales/{HOSTILE}" not in page
    assert not [raw for raw in RAW if raw in page]
    assert "&amp;amp;" in page  # the record's own "&amp;" shown as typed, not as "&"


def test_the_record_and_the_terminal_stay_english_in_a_chinese_process(built):
    result, out = built
    with translation.override("zh-hans"):
        summary = terminal.summary(result)
    assert not HAN.search(summary)
    assert not HAN.search((out / "report.json").read_text(encoding="utf-8"))
    assert HAN.search((out / "report.zh-hans.html").read_text(encoding="utf-8"))
