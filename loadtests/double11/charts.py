"""The report as one HTML page: the headline a manager reads first, the time-axis figure
(figures.py, a PNG beside the page), Locust's own report linked, then the tables and the
scorecard's bars (inline SVG); no network.

One page per language (`html(r, language=...)`: report.html in English, report.zh-hans.html
in Chinese), each linking the other at the top. Its words are the catalogue's (gettext, in
the language made active here); the record's numbers, codes (personas, invariants, rules)
and file names stay as they are. The page fits a phone: wide tables scroll in their own box,
the figure shrinks to the screen.
"""

from __future__ import annotations

import html as escape
import json
import re

from django.utils import translation
from django.utils.translation import gettext as _

from loadtests.double11.headline import headline
from loadtests.double11.lines import capacity_lines, pct, reach_line, scale_caveat, scale_line
from loadtests.double11.ops_desk import rule_said
from loadtests.double11.readable import (
    heading,
    is_bad,
    readable,
    readable_target,
    said,
    verdict_word,
)
from loadtests.double11.scorecard import measured_rows, verdict

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
FAULT = "#b03a2e"
ENGLISH, CHINESE = "en", "zh-hans"
PAGES = {ENGLISH: "report.html", CHINESE: "report.zh-hans.html"}
# The link to the other page, in that page's own language (a reader who cannot read this
# one can still find theirs).
SWITCH = {ENGLISH: ("English", "en"), CHINESE: ("中文", "zh-CN")}
HTML_LANG = {ENGLISH: "en", CHINESE: "zh-CN"}
OF_MET = re.compile(r"^(\d+) of (\d+) met$")


def page_for(language: str) -> str:
    return PAGES[language]


def _cell(value) -> str:
    shown = escape.escape(readable(value))
    if is_bad(shown):
        return f'<td class="bad">{shown}</td>'
    return f"<td>{shown}</td>"


def table(rows: list[dict]) -> str:
    """A table in a box of its own that scrolls sideways on a narrow screen (the page does
    not)."""
    if not rows:
        return f"<p>{escape.escape(_('none'))}</p>"
    head = "".join(f"<th>{escape.escape(heading(str(k)))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(_cell(v) for v in row.values()) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def of_met(value) -> object:
    """"3 of 5 met" (a target's value the record writes in words) in the reader's words."""
    found = OF_MET.match(value) if isinstance(value, str) else None
    if not found:
        return value
    return _("{met} of {total} met").format(met=found.group(1), total=found.group(2))


def chaos_section(c: dict) -> str:
    """The invariants a chaos run must keep, met or BROKEN, and the faults it injected."""
    rows = [{"invariant": i["invariant"], "value": i["value"],
             "verdict": verdict_word("met" if i["met"] else "BROKEN"), "detail": i["detail"]}
            for i in c["invariants"]]
    timeline = [{"planned": f"T{f['at_s']:+.2f}s",
                 "happened": "-" if f["done_s"] is None else f"T{f['done_s']:+.2f}s",
                 "fault": f["label"], "window": said(f["window"]),
                 "result": verdict_word("done" if f["ok"] else "FAILED"),
                 "details": ", ".join(f"{k} {v}" for k, v in f["details"].items())}
                for f in c["faults"]]
    verdict_text = (_("every invariant met") if not c["broken"]
                    else _("BROKEN: {names}").format(names=", ".join(c["broken"])))
    counts = ", ".join(f"{heading(k)} {v}" for k, v in c["counts"].items())
    marks = _("Red lines mark each fault on every panel of the time axis; shaded: from the "
              "snapshot to the restart (what Redis forgot), and the pause.")
    title = _("Chaos: invariants (seed {seed}, {database})").format(seed=c["seed"],
                                                                     database=c["database"])
    return (f'<h2>{escape.escape(title)}</h2>'
            f'<p class="{"ok" if not c["broken"] else "bad"}">{escape.escape(verdict_text)}</p>'
            f'{table(rows)}<p>{escape.escape(counts)}</p>'
            f'<h3>{escape.escape(_("Fault timeline"))}</h3>{table(timeline)}'
            f'<p>{escape.escape(marks)}</p>')


def bar_chart(title: str, bars: list[tuple[str, float | None, float, bool]], *,
              width: int = 760) -> str:
    """Horizontal bars of (label, value 0..1, goal 0..1, higher is better), a tick at each
    goal; a bar that misses its goal is red, a value of None is drawn as "n/a"."""
    left, bar_h, gap, top = 190, 14, 6, 26
    plot_w = width - left - 70
    height = top + len(bars) * (bar_h + gap) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="4" y="16" font-size="13" font-weight="bold">{escape.escape(title)}'
             f'</text>']
    for n, (label, value, goal, higher) in enumerate(bars):
        y = top + n * (bar_h + gap)
        parts.append(f'<text x="{left - 6}" y="{y + 11}" text-anchor="end">'
                     f'{escape.escape(label)}</text>')
        if value is None:
            parts.append(f'<text x="{left + 4}" y="{y + 11}" fill="{FAULT}">'
                         f'{escape.escape(_("n/a"))}</text>')
        else:
            met = value >= goal if higher else value <= goal
            color = COLORS[2] if met else FAULT
            parts.append(f'<rect x="{left}" y="{y}" width="{max(value, 0.0) * plot_w:.1f}" '
                         f'height="{bar_h}" fill="{color}"/><text x="'
                         f'{left + max(value, 0.0) * plot_w + 4:.1f}" y="{y + 11}">'
                         f'{value * 100:.1f}%</text>')
        x = left + goal * plot_w
        parts.append(f'<line x1="{x:.1f}" y1="{y - 2}" x2="{x:.1f}" y2="{y + bar_h + 2}" '
                     f'stroke="#333" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def bars_title() -> str:
    return _("Recall, unit share and false positives per persona (tick: the goal)")


def ops_desk_section(desk: dict | None) -> str:
    """Who answered the ring cases: the modelled person on duty (its rule, what it did), so
    that a unit share reached through ops is never read as automation's."""
    if not desk:
        return ""
    rows = [{"case": a["case"], "sale": a["sale"], "accounts": len(a["members"]),
             "answer": said(a["answer"]), "HTTP": a["status"], "answered after s": a["after_s"]}
            for a in desk.get("answers", [])]
    done = (_("; each case answered {read} s after the desk first saw it. Confirmed {cases} "
              "cases ({accounts} accounts), cleared {cleared} ({cleared_accounts}).").format(
                read=desk["read_s"], cases=desk["confirmed_cases"],
                accounts=desk["confirmed_accounts"], cleared=desk["cleared_cases"],
                cleared_accounts=desk["cleared_accounts"])
            if "read_s" in desk else ".")
    return (f"<h2>{escape.escape(_('Ops desk (modelled)'))}</h2><p>"
            + escape.escape(_("Rule: {rule}").format(rule=rule_said(desk["rule"])) + done + " "
                            + _("The desk reads the ops API as a person reads the case page, "
                                "never the replay's labels (loadtests/double11/ops_desk.py)."))
            + "</p>" + (table(rows) if rows else ""))


def _missed(row: dict) -> str:
    return (f"{row['persona']}: {said(row['target'])}"
            + (_(" (not measured)") if row["value"] is None else ""))


def _never(row: dict) -> dict:
    """A persona's times, "never" said in the reader's words."""
    return {k: v.replace("never", verdict_word("never")) if isinstance(v, str) else v
            for k, v in row.items()}


def scorecard_section(card: dict) -> str:
    """Issue 16's targets per persona and overall (met or MISSED), the numbers behind them,
    and a chart: recall of each scalper persona and false-positive rate of each genuine
    one, against their goals."""
    rows = [{"persona": t["persona"], "target": said(t["target"]), "goal": t["goal"],
             "value": readable_target(t["value"], t["goal"]),
             "verdict": verdict_word(verdict(t))} for t in card["rows"]]
    goals = card["goals"]
    bars = [(_("{persona} recall").format(persona=p), m["recall"], goals["recall_min"], True)
            for p, m in card["personas"].items() if "recall" in m]
    bars += [(_("{persona} unit share").format(persona=p), m["unit_share"],
              goals["scalper_share_max"], False)
             for p, m in card["personas"].items() if "unit_share" in m]
    bars += [(_("{persona} false positives").format(persona=p), m["fpr"],
              goals["genuine_fpr_max"], False)
             for p, m in card["personas"].items() if "fpr" in m]
    missed_rows = [_missed(t) for t in card["rows"] if not t["met"]]
    missed = (f'<p class="bad">{escape.escape(verdict_word("MISSED"))}: '
              f'{escape.escape("; ".join(missed_rows))}</p>'
              if missed_rows else f'<p class="ok">{escape.escape(_("every target met"))}</p>')
    explained = _("Units over every sale of the run (the deposit pre-sale too). Precision of a "
                  "scalper persona: its flagged accounts against the genuine accounts flagged "
                  "in the same ring cases. Decision: from an account's first admission to the "
                  "first RiskDecision that flagged it (never, for one admitted and not "
                  "flagged); cancel: to its order's risk cancellation.")
    return (f"<h2>{escape.escape(_('Targets per persona (issue 16)'))}</h2>{missed}"
            f"{table(rows)}<p>{escape.escape(explained)}</p>"
            f"{table([_never(row) for row in measured_rows(card)])}"
            f'<div class="scroll">{bar_chart(bars_title(), bars)}</div>')


def scale_text(r: dict) -> str:
    reach = "</p><p>".join(escape.escape(line.strip())
                           for line in reach_line(r["load"]).splitlines())
    return f"<p>{escape.escape(scale_line(r['run']).strip())}.</p><p>{reach}.</p>"


def capacity_section(c: dict) -> str:
    """The capacity model's words; its formulas (loadtests.capacity, a tier's count from
    rates and microseconds) are shown as they are computed."""
    lines = capacity_lines(c)
    title = f"<h2>{escape.escape(_('Capacity model'))}</h2>"
    if "unavailable" in c:
        return f"{title}<p>{escape.escape(lines[0].strip())}</p>"
    items = "".join(f"<li>{escape.escape(line)}</li>" for line in c.get("assumptions", []))
    return (f"{title}<p>{escape.escape(lines[0].strip())}</p>"
            + "".join(f"<pre>{escape.escape(line)}</pre>" for line in c["lines"])
            + (f"<p>{escape.escape(_('Resting on:'))}</p><ul>{items}</ul>" if items else ""))


def headline_section(r: dict) -> str:
    """The verdict and four sentences, at the top of the page."""
    head = headline(r)
    items = "".join(f"<li>{escape.escape(line)}</li>" for line in head["lines"])
    return (f'<section class="headline"><p class="{"ok" if head["held"] else "bad"}">'
            f'{escape.escape(head["verdict"])}</p><ul>{items}</ul></section>')


def checks_section(checks: dict) -> str:
    """The invariants of the record (a chaos run shows them in its own section)."""
    rows = [{"invariant": c["invariant"], "value": c["value"],
             "verdict": verdict_word("met" if c["met"] else "BROKEN"), "detail": c["detail"]}
            for c in checks["rows"]]
    title = _("Invariant checks (sales/invariants.py, on the record at T{at} s)").format(
        at=f"{checks['at_s']:+g}")
    return f"<h2>{escape.escape(title)}</h2>{table(rows)}"


def links(r: dict, figure: str) -> str:
    """Locust's own report (what its processes were asked to write, when they wrote it), the
    record and the figure."""
    locust = r["run"].get("locust_report")
    written = r["run"].get("locust_report_written")
    own = escape.escape(_("Locust's own report:"), quote=False)
    own = (f'{own} <a href="{escape.escape(locust)}">{escape.escape(locust)}</a>'
           if locust and written else
           own + " " + escape.escape(_("not written ({file} was asked for; see "
                                       "logs/locust.log)").format(file=locust)))
    return (f'<p>{own}; {escape.escape(_("every number:"))} <a href="report.json">report.json'
            f'</a>; {escape.escape(_("the figure alone:"))} <a href="{escape.escape(figure)}">'
            f'{escape.escape(figure)}</a>.</p>')


def switch(language: str) -> str:
    """The link to the page in the other language, named in that language."""
    other = CHINESE if language == ENGLISH else ENGLISH
    name, lang = SWITCH[other]
    return (f'<nav class="language"><a id="language" href="{PAGES[other]}" hreflang="{lang}" '
            f'lang="{lang}">{name}</a></nav>')


STYLE = """body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",
"WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;margin:16px auto;padding:0 12px;
max-width:1240px;overflow-wrap:anywhere}
h1{font-size:22px;margin:4px 0}
.language{text-align:right;font-size:14px}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;
font-size:13px;text-align:left;overflow-wrap:normal}.bad{color:#b03a2e;font-weight:bold}
.ok{color:#1e8449;font-weight:bold}
.headline{border:2px solid #ccc;padding:4px 16px;margin:8px 0;font-size:16px}
.headline ul{padding-left:18px}.headline li{margin:4px 0}
img{max-width:100%;height:auto}
pre{background:#f6f6f6;padding:8px;font-size:12px;white-space:pre-wrap}
@media (max-width:600px){body{margin:8px auto}.headline{padding:2px 10px;font-size:15px}
h1{font-size:18px}}"""


def html(r: dict, *, language: str = ENGLISH, figure: str | None = None) -> str:
    """The page in `language`, in the order a reader needs it: the headline, the links, the
    figure, then the tables behind them. `figure`: the figure in this language (None: there
    is none, the English one is shown and the page says why)."""
    with translation.override(language):
        return _page(r, language, figure)


def _page(r: dict, language: str, figure: str | None) -> str:
    run = r["run"]
    chaos = r.get("chaos")
    shown = figure or r["charts"]
    no_font = ("" if figure or language == ENGLISH else
               '<p class="bad" id="no-font">' + escape.escape(_(
                   "No font with Chinese characters was found on this machine: the figure "
                   "below is the English one.")) + "</p>")
    other = CHINESE if language == ENGLISH else ENGLISH
    targets = table([{"target": said(t["target"]),
                      "value": readable_target(of_met(t["value"]), t["goal"]),
                      "goal": said(t["goal"]),
                      "verdict": verdict_word("met" if t["met"] else "MISSED")}
                     for t in r["targets"]])
    detection = table([{"persona": p, **v} for p, v in r["detection"]["by_persona"].items()])
    numbers = {k: r[k] for k in ("invariants", "orders", "timing", "units", "attempts")}
    title = escape.escape(_("Double-11 replay, sale {sale}").format(sale=run["sale_id"]))
    setting = _("{shoppers} shoppers, {units} units, time scale {time_scale} (phases at least "
                "{min_phase} s), payment window {window} s.").format(
        shoppers=f"{run['scale_shoppers']:,}", units=f"{run['stock']:,}",
        time_scale=run["time_scale"], min_phase=run["min_phase_s"],
        window=f"{run['payment_window_s']:.0f}")
    axis = _("Every panel shares the seconds from T0. Above them the phases, and the events: "
             "faults injected (red; shaded from a snapshot to its restart, and a pause), the "
             "open stock's sell-out and the rush's last ticket (grey), the invariant checks "
             "(green when all are met, red when one is broken).")
    alt = _("Arrivals planned and answered, achieved / planned, shoppers, purchases, stock, "
            "queue and latency on one time axis")
    det = r["detection"]
    flags = _("Counted: {counted}. Precision {precision}, recall {recall}, genuine FPR "
              "{fpr}.").format(counted=said(det["counted"]), precision=pct(det["precision"]),
                               recall=pct(det["recall"]), fpr=pct(det["genuine_fpr"]))

    def h2(text: str) -> str:
        return f"<h2>{escape.escape(text)}</h2>"

    return f"""<!doctype html><html lang="{HTML_LANG[language]}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="alternate" hreflang="{HTML_LANG[other]}" href="{PAGES[other]}">
<style>{STYLE}</style>
</head><body>{switch(language)}<h1>{title}</h1>
{headline_section(r)}
{links(r, shown)}
<p>{escape.escape(setting)}</p>
<p>{escape.escape(scale_caveat(run).strip())}.</p>
{scale_text(r)}
{h2(_("One time axis"))}<p>{escape.escape(axis)}</p>{no_font}
<img src="{escape.escape(shown)}" id="timeline" alt="{escape.escape(alt)}">
{h2(_("Targets"))}{targets}
{checks_section(r["checks"]) if not chaos else ""}
{scorecard_section(r["scorecard"]) if r.get("scorecard") else ""}
{ops_desk_section(r.get("ops_desk"))}
{chaos_section(chaos) if chaos else ""}
{capacity_section(r.get("capacity") or {})}
{h2(_("Requests per endpoint (Locust)"))}{table(r['load']['endpoints'])}
{h2(_("Anti-scalper flags by persona"))}<p>{escape.escape(flags)}</p>{detection}
{h2(_("Numbers"))}<pre>{escape.escape(json.dumps(numbers, indent=1, default=str))}</pre>
</body></html>"""
