"""Numbers as the report's reader reads them: 12,345 requests, 41.0 %, 0.73 s; "n/a" for a
figure not measured, never "None"; a mapping as "paid 12, expired 3", never a Python dict.

The record (report.json) keeps the raw values for machines; only the page and the summary
say them this way. The words among them (n/a, yes, none, a column's heading, a verdict, a
phase) are in the active language; the record's keys and codes (a persona, an invariant, a
rule) are identifiers and stay as they are.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

# The plan's phases (curve.csv), for the figure's strip and the sentences that name one.
PHASES = {"browse": gettext_lazy("browse"), "wait": gettext_lazy("wait"),
          "spike": gettext_lazy("spike"), "decay": gettext_lazy("decay"),
          "payment": gettext_lazy("payment"), "tail": gettext_lazy("tail")}
# The tables' columns, by the record's key; a key not here is shown as its words.
HEADINGS = {
    "target": gettext_lazy("target"), "value": gettext_lazy("value"),
    "goal": gettext_lazy("goal"), "verdict": gettext_lazy("verdict"),
    "invariant": gettext_lazy("invariant"), "detail": gettext_lazy("detail"),
    "planned": gettext_lazy("planned"), "happened": gettext_lazy("happened"),
    "fault": gettext_lazy("fault"), "window": gettext_lazy("window"),
    "result": gettext_lazy("result"), "details": gettext_lazy("details"),
    "case": gettext_lazy("case"), "sale": gettext_lazy("sale"),
    "accounts": gettext_lazy("accounts"), "answer": gettext_lazy("answer"),
    "answered after s": gettext_lazy("answered after s"), "persona": gettext_lazy("persona"),
    "admitted": gettext_lazy("admitted"), "flagged": gettext_lazy("flagged"),
    "units": gettext_lazy("units"), "unit share": gettext_lazy("unit share"),
    "recall": gettext_lazy("recall"), "precision": gettext_lazy("precision"),
    "rate": gettext_lazy("rate"), "decision p50/p99 s": gettext_lazy("decision p50/p99 s"),
    "cancel p50/p99 s": gettext_lazy("cancel p50/p99 s"), "name": gettext_lazy("endpoint"),
    "method": gettext_lazy("method"), "requests": gettext_lazy("requests"),
    "failures": gettext_lazy("failures"),
}
# Verdicts of a row: the record says met/MISSED/BROKEN/FAILED/done in English.
VERDICTS = {"met": gettext_lazy("met"), "MISSED": gettext_lazy("MISSED"),
            "MISSED (not measured)": gettext_lazy("MISSED (not measured)"),
            "BROKEN": gettext_lazy("BROKEN"), "FAILED": gettext_lazy("FAILED"),
            "done": gettext_lazy("done"), "never": gettext_lazy("never")}
BAD = ("BROKEN", "MISSED", "FAILED")
# Words the record writes that the pages say in the reader's language (through `said`): a
# fault's window (chaos.py), an ops desk's answer (ops_desk.py).
RECORD_WORDS = (gettext_noop("rush"), gettext_noop("second rush"), gettext_noop("confirm"),
                gettext_noop("clear"))


def phase_name(name: str) -> str:
    """A phase in the reader's language (one the plan has and this list not: as named)."""
    return str(PHASES.get(name, name))


def said(text):
    """A word or sentence of the record (a target's name, a rule) in the reader's language
    when the catalogue has it (marked with gettext_noop where it is written), else as
    written; never gettext's header for an empty string."""
    return _(text) if isinstance(text, str) and text else text


def verdict_word(word: str) -> str:
    """met, MISSED, ... in the reader's language."""
    return str(VERDICTS.get(word, word))


def is_bad(shown: str) -> bool:
    """A cell saying a verdict that is not met, in either language (the page reddens it)."""
    return shown.startswith(BAD + tuple(str(VERDICTS[w]) for w in BAD))


def readable(value) -> str:
    """One value in a table cell."""
    if value is None:
        return _("n/a")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return _("n/a")
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) < 0.001:
            return "< 0.001" if value > 0 else "> -0.001"
        digits = 3 if abs(value) < 1 else 2
        return f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ') if isinstance(k, str) else k} {readable(v)}"
                         for k, v in value.items()) or _("none")
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(v) for v in value) or _("none")
    return str(value)


def readable_target(value, goal: str) -> str:
    """A target's value in its goal's terms: a percentage where the goal is one."""
    if isinstance(value, float) and "%" in goal:
        return f"{value * 100:.1f} %"
    return readable(value)


def heading(key: str) -> str:
    """A column's heading from its record key, in the reader's language: "p50_ms" reads
    "p50 ms"."""
    words = key.replace("_", " ")
    return str(HEADINGS.get(key, HEADINGS.get(words, words)))
