"""The report's tables say numbers as people read them: never "None", a Python dict, a float's
seventeen digits or 7.19e+03, whatever the record holds."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtests.double11 import report, terminal
from loadtests.double11.readable import readable, readable_target
from loadtests.double11.run import Options, prepare

RAW = re.compile(r"None|\{|\}|\[|\]|'|\d[eE][+-]?\d|\d\.\d{4,}")

values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12)
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
    | st.just(float("nan"))
    | st.text(alphabet="abc xyz", max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(alphabet="ab_c", min_size=1, max_size=6), inner, max_size=3),
    max_leaves=8)


@given(values)
def test_no_value_reads_as_python(value):
    assert not RAW.search(readable(value)), readable(value)


@pytest.mark.parametrize(("value", "shown"), [
    (None, "n/a"), (7190.0, "7,190"), (7190.4, "7,190"), (12345, "12,345"), (0.41025641, "0.41"),
    (2.5, "2.5"), (True, "yes"), ({"paid": 12, "expired": 3}, "paid 12, expired 3"),
    ({"risk_blocked": 2}, "risk blocked 2"), ([], "none")])
def test_the_shapes_a_record_holds(value, shown):
    assert readable(value) == shown


def test_a_target_reads_in_its_goals_terms():
    assert readable_target(0.8125, ">= 80 %") == "81.2 %"
    assert readable_target(0.41025641, ">= 0.6") == "0.41"
    assert readable_target(None, ">= 80 %") == "n/a"


@pytest.mark.django_db
def test_the_pages_tables_hold_no_raw_values(tmp_path):
    plan = prepare(Options(scale=0.00005, time_scale=0.02, min_phase_s=2, seed=3), tmp_path)
    result = report.build(plan, [], tmp_path)
    page = (tmp_path / "report.html").read_text()
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page)
    assert cells
    for cell in cells:
        assert not RAW.search(cell), cell
    targets = [line for line in terminal.summary(result).splitlines()
               if line.startswith(("  met", "  MISSED"))]
    assert targets
    for line in targets:
        assert not RAW.search(line.split(":", 1)[1]), line
