"""The report as one HTML page: the headline a manager reads first, the time-axis figure
(figures.py, a PNG beside the page), Locust's own report linked, then the tables and the
scorecard's bars (inline SVG); no network."""

from __future__ import annotations

import html as escape
import json

from loadtests.double11.headline import headline
from loadtests.double11.lines import capacity_lines, pct, reach_line, scale_caveat, scale_line
from loadtests.double11.readable import heading, readable, readable_target
from loadtests.double11.scorecard import measured_rows, verdict

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
FAULT = "#b03a2e"


def _cell(value) -> str:
    shown = escape.escape(readable(value))
    if shown.startswith(("BROKEN", "MISSED", "FAILED")):
        return f'<td class="bad">{shown}</td>'
    return f"<td>{shown}</td>"


def table(rows: list[dict]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{escape.escape(heading(str(k)))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(_cell(v) for v in row.values()) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def chaos_section(c: dict) -> str:
    """The invariants a chaos run must keep, met or BROKEN, and the faults it injected."""
    rows = [{"invariant": i["invariant"], "value": i["value"],
             "verdict": "met" if i["met"] else "BROKEN", "detail": i["detail"]}
            for i in c["invariants"]]
    timeline = [{"planned": f"T{f['at_s']:+.2f}s",
                 "happened": "-" if f["done_s"] is None else f"T{f['done_s']:+.2f}s",
                 "fault": f["label"], "window": f["window"],
                 "result": "done" if f["ok"] else "FAILED",
                 "details": ", ".join(f"{k} {v}" for k, v in f["details"].items())}
                for f in c["faults"]]
    verdict = ("every invariant met" if not c["broken"]
               else f"BROKEN: {', '.join(c['broken'])}")
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c["counts"].items())
    return (f'<h2>Chaos: invariants (seed {c["seed"]}, {escape.escape(c["database"])})</h2>'
            f'<p class="{"ok" if not c["broken"] else "bad"}">{escape.escape(verdict)}</p>'
            f'{table(rows)}<p>{escape.escape(counts)}</p>'
            f'<h3>Fault timeline</h3>{table(timeline)}'
            f'<p>Red lines mark each fault on every panel of the time axis; shaded: from the '
            f'snapshot to the restart (what Redis forgot), and the pause.</p>')


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
            parts.append(f'<text x="{left + 4}" y="{y + 11}" fill="{FAULT}">n/a</text>')
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


BARS_TITLE = "Recall, unit share and false positives per persona (tick: the goal)"


def ops_desk_section(desk: dict | None) -> str:
    """Who answered the ring cases: the modelled person on duty (its rule, what it did), so
    that a unit share reached through ops is never read as automation's."""
    if not desk:
        return ""
    rows = [{"case": a["case"], "sale": a["sale"], "accounts": len(a["members"]),
             "answer": a["answer"], "HTTP": a["status"], "answered after s": a["after_s"]}
            for a in desk.get("answers", [])]
    return (f"<h2>Ops desk (modelled)</h2><p>Rule: {escape.escape(desk['rule'])}"
            + (f"; each case answered {desk['read_s']} s after the desk first saw it. "
               f"Confirmed {desk['confirmed_cases']} cases ({desk['confirmed_accounts']} "
               f"accounts), cleared {desk['cleared_cases']} ({desk['cleared_accounts']})."
               if "read_s" in desk else ".")
            + " The desk reads the ops API as a person reads the case page, never the "
              "replay's labels (loadtests/double11/ops_desk.py).</p>"
            + (table(rows) if rows else ""))


def scorecard_section(card: dict) -> str:
    """Issue 16's targets per persona and overall (met or MISSED), the numbers behind them,
    and a chart: recall of each scalper persona and false-positive rate of each genuine
    one, against their goals."""
    rows = [{"persona": t["persona"], "target": t["target"], "goal": t["goal"],
             "value": readable_target(t["value"], t["goal"]),
             "verdict": verdict(t)} for t in card["rows"]]
    goals = card["goals"]
    bars = [(f"{p} recall", m["recall"], goals["recall_min"], True)
            for p, m in card["personas"].items() if "recall" in m]
    bars += [(f"{p} unit share", m["unit_share"], goals["scalper_share_max"], False)
             for p, m in card["personas"].items() if "unit_share" in m]
    bars += [(f"{p} false positives", m["fpr"], goals["genuine_fpr_max"], False)
             for p, m in card["personas"].items() if "fpr" in m]
    missed = (f'<p class="bad">MISSED: {escape.escape("; ".join(card["missed"]))}</p>'
              if card["missed"] else '<p class="ok">every target met</p>')
    return (f"<h2>Targets per persona (issue 16)</h2>{missed}{table(rows)}"
            f"<p>Units over every sale of the run (the deposit pre-sale too). Precision of a "
            f"scalper persona: its flagged accounts against the genuine accounts flagged in "
            f"the same ring cases. Decision: from an account's first admission to the first "
            f"RiskDecision that flagged it (never, for one admitted and not flagged); cancel: "
            f"to its order's risk cancellation.</p>"
            f"{table(measured_rows(card))}"
            f"<div>{bar_chart(BARS_TITLE, bars)}</div>")


def scale_text(r: dict) -> str:
    reach = "</p><p>".join(escape.escape(line.strip())
                           for line in reach_line(r["load"]).splitlines())
    return f"<p>{escape.escape(scale_line(r['run']).strip())}.</p><p>{reach}.</p>"


def capacity_section(c: dict) -> str:
    lines = capacity_lines(c)
    if "unavailable" in c:
        return f"<h2>Capacity model</h2><p>{escape.escape(lines[0].strip())}</p>"
    items = "".join(f"<li>{escape.escape(line)}</li>" for line in c.get("assumptions", []))
    return (f"<h2>Capacity model</h2><p>{escape.escape(lines[0].strip())}</p>"
            + "".join(f"<pre>{escape.escape(line)}</pre>" for line in c["lines"])
            + (f"<p>Resting on:</p><ul>{items}</ul>" if items else ""))


def headline_section(r: dict) -> str:
    """The verdict and four sentences, at the top of the page."""
    head = headline(r)
    items = "".join(f"<li>{escape.escape(line)}</li>" for line in head["lines"])
    return (f'<section class="headline"><p class="{"ok" if head["held"] else "bad"}">'
            f'{escape.escape(head["verdict"])}</p><ul>{items}</ul></section>')


def checks_section(checks: dict) -> str:
    """The invariants of the record (a chaos run shows them in its own section)."""
    rows = [{"invariant": c["invariant"], "value": c["value"],
             "verdict": "met" if c["met"] else "BROKEN", "detail": c["detail"]}
            for c in checks["rows"]]
    return (f"<h2>Invariant checks (sales/invariants.py, on the record at "
            f"T{checks['at_s']:+g} s)</h2>{table(rows)}")


def links(r: dict) -> str:
    """Locust's own report (what its processes were asked to write, when they wrote it), the
    record and the figure."""
    locust = r["run"].get("locust_report")
    written = r["run"].get("locust_report_written")
    own = (f"Locust's own report: <a href=\"{escape.escape(locust)}\">"
           f"{escape.escape(locust)}</a>" if locust and written else
           f"Locust's own report: not written ({escape.escape(str(locust))} was asked for; "
           f"see logs/locust.log)")
    return (f'<p>{own}; every number: <a href="report.json">report.json</a>; the figure '
            f'alone: <a href="{escape.escape(r["charts"])}">{escape.escape(r["charts"])}</a>.'
            f'</p>')


def html(r: dict) -> str:
    """The page, in the order a reader needs it: the headline, the links, the figure, then
    the tables behind them."""
    run = r["run"]
    chaos = r.get("chaos")
    targets = table([{"target": t["target"], "value": readable_target(t["value"], t["goal"]),
                      "goal": t["goal"],
                      "verdict": "met" if t["met"] else "MISSED"} for t in r["targets"]])
    detection = table([{"persona": p, **v} for p, v in r["detection"]["by_persona"].items()])
    numbers = {k: r[k] for k in ("invariants", "orders", "timing", "units", "attempts")}
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Double-11 replay, sale {run['sale_id']}</title>
<style>body{{font-family:sans-serif;margin:24px;max-width:1240px}}
table{{border-collapse:collapse;margin:8px 0}}td,th{{border:1px solid #ccc;padding:3px 8px;
font-size:13px;text-align:left}}.bad{{color:#b03a2e;font-weight:bold}}.ok{{color:#1e8449;font-weight:bold}}
.headline{{border:2px solid #ccc;padding:4px 16px;margin:12px 0;font-size:16px}}
.headline li{{margin:4px 0}}img{{max-width:100%}}
pre{{background:#f6f6f6;padding:8px;font-size:12px}}</style>
</head><body><h1>Double-11 replay, sale {run['sale_id']}</h1>
{headline_section(r)}
{links(r)}
<p>{run['scale_shoppers']:,} shoppers, {run['stock']:,} units, time scale {run['time_scale']}
(phases at least {run['min_phase_s']} s), payment window {run['payment_window_s']:.0f} s.</p>
<p>{escape.escape(scale_caveat(run).strip())}.</p>
{scale_text(r)}
<h2>One time axis</h2><p>Every panel shares the seconds from T0. Above them the phases, and
the events: faults injected (red; shaded from a snapshot to its restart, and a pause), the
open stock's sell-out and the rush's last ticket (grey), the invariant checks (green when all
are met, red when one is broken).</p>
<img src="{escape.escape(r['charts'])}" alt="Arrivals planned and answered, achieved / planned,
shoppers, purchases, stock, queue and latency on one time axis">
<h2>Targets</h2>{targets}
{checks_section(r["checks"]) if not chaos else ""}
{scorecard_section(r["scorecard"]) if r.get("scorecard") else ""}
{ops_desk_section(r.get("ops_desk"))}
{chaos_section(chaos) if chaos else ""}
{capacity_section(r.get("capacity") or {})}
<h2>Requests per endpoint (Locust)</h2>{table(r['load']['endpoints'])}
<h2>Anti-scalper flags by persona</h2><p>Counted: {escape.escape(r['detection']['counted'])}.
Precision {pct(r['detection']['precision'])}, recall {pct(r['detection']['recall'])}, genuine
FPR {pct(r['detection']['genuine_fpr'])}.</p>{detection}
<h2>Numbers</h2><pre>{escape.escape(json.dumps(numbers, indent=1, default=str))}</pre>
</body></html>"""
