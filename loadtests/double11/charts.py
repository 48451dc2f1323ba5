"""The report as one self-contained HTML page: tables and inline SVG line charts drawn here
(no plotting library, no network)."""

from __future__ import annotations

import html as escape
import json

from loadtests.double11.headline import headline
from loadtests.double11.lines import capacity_lines, reach_line, scale_caveat, scale_line
from loadtests.double11.plan import Plan
from loadtests.double11.scorecard import measured_rows, verdict

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
FAULT = "#b03a2e"
CHAR_W = 5.6            # about one character of the 10-px labels


def fault_marks(faults: list[dict], sx, top: float, plot_h: float,
                right_edge: float) -> list[str]:
    """A chaos run's faults on the time axis: a band for a span (snapshot to restart, a
    pause), a line where each one hit, and its label in the first row where it fits."""
    parts, rows = [], []       # rows: the right edge of the last label in each row
    for f in sorted(faults, key=lambda f: f["done_s"] if f["done_s"] is not None
                    else f["at_s"]):
        at = f["done_s"] if f["done_s"] is not None else f["at_s"]
        start, end = f.get("since_s"), f.get("until_s")
        dash = "" if f["ok"] else ' stroke-dasharray="2,2"'
        if start is not None or end is not None:
            x1, x2 = sx(start if start is not None else at), sx(end if end is not None else at)
            parts.append(f'<rect x="{x1:.1f}" y="{top}" width="{max(x2 - x1, 1):.1f}" '
                         f'height="{plot_h}" fill="{FAULT}" fill-opacity="0.10"/>')
        x = sx(at)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
                     f'stroke="{FAULT}" stroke-width="1.2"{dash}/>')
        text = f["label"] + ("" if f["ok"] else " (failed)")
        width = len(text) * CHAR_W + 6
        # right of its line, or left of it where the plot would clip it
        box = x + 2 if x + 2 + width <= right_edge else x - 2 - width
        row = next((n for n, edge in enumerate(rows) if edge < box), len(rows))
        if row == len(rows):
            rows.append(0.0)
        rows[row] = box + width + 1
        y = top + 34 + 12 * row
        parts.append(f'<rect x="{box:.1f}" y="{y - 9}" width="{width:.1f}" height="11" '
                     f'fill="white" fill-opacity="0.85"/><text x="{box + 2:.1f}" y="{y}" '
                     f'font-size="10" fill="{FAULT}">{escape.escape(text)}</text>')
    return parts


def line_chart(title: str, lines: list[tuple[str, list]], plan: Plan, *, y_label: str = "",
               width: int = 760, height: int = 240, faults: list[dict] | None = None) -> str:
    """Lines of (label, [[t, y], ...]) against seconds from T0, with the phases marked (and a
    chaos run's faults)."""
    left, right, top, bottom = 56, 16, 28, 34
    points = [(x, y) for _, data in lines for x, y in data if y is not None]
    x_min = min([p.starts_s for p in plan.phases] + [x for x, _ in points])
    x_max = max([plan.phases[-1].ends_s] + [x for x, _ in points])
    y_max = max([y for _, y in points] + [1]) * 1.1
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x_min) / ((x_max - x_min) or 1) * plot_w

    def sy(y: float) -> float:
        return top + plot_h - y / y_max * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">'
             f'{escape.escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
             f'stroke="#999"/>']
    edge = 0.0  # short phases: a label that would run into the previous one goes below it
    for phase in plan.phases:
        x = sx(phase.starts_s)
        y = top + 10 if x > edge else top + 21
        edge = x + 2 + len(phase.name) * CHAR_W * 1.1 if y == top + 10 else edge
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
                     f'stroke="#ccc" stroke-dasharray="3,3"/>'
                     f'<text x="{x + 2:.1f}" y="{y}" fill="#888">{phase.name}</text>')
    parts += fault_marks(faults or [], sx, top, plot_h, left + plot_w)
    for n in range(5):
        value = y_max * n / 4
        parts.append(f'<text x="{left - 4}" y="{sy(value) + 4:.1f}" text-anchor="end">'
                     f'{value:.3g}</text>')
    for n in range(6):
        value = x_min + (x_max - x_min) * n / 5
        parts.append(f'<text x="{sx(value):.1f}" y="{height - 18}" text-anchor="middle">'
                     f'T{value:+.0f}s</text>')
    parts.append(f'<text x="12" y="{top + plot_h / 2}" transform="rotate(-90 12 '
                 f'{top + plot_h / 2})" text-anchor="middle">{escape.escape(y_label)}</text>')
    legend_x = left + 8.0
    for n, (label, data) in enumerate(lines):
        color = COLORS[n % len(COLORS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in data if y is not None)
        if path:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" '
                         f'points="{path}"/>')
        parts.append(f'<text x="{legend_x:.0f}" y="{height - 4}" fill="{color}">'
                     f'&#9632; {escape.escape(label)}</text>')
        legend_x += max(150.0, (len(label) + 2) * CHAR_W * 1.15 + 16)
    parts.append("</svg>")
    return "".join(parts)


def planned_arrivals(plan: Plan) -> list[list[float]]:
    """The plan's request arrivals (the curve's multiples of B), ten points a phase."""
    points = []
    for phase in plan.phases:
        for n in range(11):
            t = phase.starts_s + (phase.ends_s - phase.starts_s) * min(n / 10, 0.999)
            points.append([t, plan.planned_rps(plan.t0 + t)])
    return points


def _cell(value) -> str:
    if str(value).startswith(("BROKEN", "MISSED", "FAILED")):
        return f'<td class="bad">{value}</td>'
    return f"<td>{escape.escape(str(value))}</td>"


def table(rows: list[dict]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{escape.escape(str(k))}</th>" for k in rows[0])
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
            f'<p>Red lines mark each fault on every chart; shaded: from the snapshot to the '
            f'restart (what Redis forgot), and the pause.</p>')


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
             "value": "n/a" if t["value"] is None else t["value"],
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
    """Locust's own report (what its processes were asked to write, when they wrote it) and
    the record."""
    locust = r["run"].get("locust_report")
    written = r["run"].get("locust_report_written")
    own = (f"Locust's own report: <a href=\"{escape.escape(locust)}\">"
           f"{escape.escape(locust)}</a>" if locust and written else
           f"Locust's own report: not written ({escape.escape(str(locust))} was asked for; "
           f"see logs/locust.log)")
    return f'<p>{own}; every number: <a href="report.json">report.json</a>.</p>'


def html(r: dict, plan: Plan) -> str:
    s = r["series"]
    gate, hist = s["gate"], s["locust"]
    total = len(plan.accounts)
    chaos = r.get("chaos")
    faults = chaos["faults"] if chaos else None

    def chart(*args, **kwargs) -> str:
        return line_chart(*args, faults=faults, **kwargs)

    charts = [
        chart("Arrivals: planned (curve x B) vs answered (the shoppers' own log)", [
            ("answered requests/s", s.get("answered_per_s", [])),
            ("of which crowd refreshes", s.get("refresh_per_s", [])),
            ("tried (answered or not)", s.get("tried_per_s", [])),
            ("planned requests/s", planned_arrivals(plan)),
            ("Locust requests/s (10-s average)", [[h["t"], h["rps"]] for h in hist])],
            plan, y_label="requests/s"),
        chart("Shoppers: planned vs achieved (Locust users)", [
            ("achieved users", [[h["t"], h["users"]] for h in hist]),
            ("planned users", [[t, plan.users_at(plan.t0 + t) * total] for t in
                               [p.starts_s for p in plan.phases] + [plan.phases[-1].ends_s]])],
            plan, y_label="users"),
        chart("Purchases per second", [
            ("admitted/s (gate)", s["admissions_per_s"]),
            ("orders written/s (pipeline)", s["orders_per_s"]),
            ("payments/s", s["payments_per_s"])], plan, y_label="per second"),
        chart("Stock left (gate)", [
            ("open stock", [[g["t"], g["stock_left"]] for g in gate]),
            ("F-code quota", [[g["t"], g["fcode_left"]] for g in gate])], plan, y_label="units"),
        chart("Queue depth (tickets waiting for the pipeline)",
                   [("queued", [[g["t"], g["queued"]] for g in gate])], plan, y_label="tickets"),
        chart("Latency percentiles (all requests, Locust)", [
            ("p50", [[h["t"], h["p50"]] for h in hist]),
            ("p95", [[h["t"], h["p95"]] for h in hist]),
            ("p99", [[h["t"], h["p99"]] for h in hist])], plan, y_label="ms"),
    ]
    if chaos:
        charts.insert(3, chart("Answers 503 per second (shoppers' view)", [
            (code, points) for code, points in chaos["errors_per_s"].items()] or [
            ("none", [])], plan, y_label="per second"))
    targets = table([{"target": t["target"], "value": t["value"], "goal": t["goal"],
                      "verdict": "met" if t["met"] else "MISSED"} for t in r["targets"]])
    detection = table([{"persona": p, **v} for p, v in r["detection"]["by_persona"].items()])
    numbers = {k: r[k] for k in ("invariants", "orders", "timing", "units", "attempts")}
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Double-11 replay, sale {r['run']['sale_id']}</title>
<style>body{{font-family:sans-serif;margin:24px;max-width:1000px}}
table{{border-collapse:collapse;margin:8px 0}}td,th{{border:1px solid #ccc;padding:3px 8px;
font-size:13px;text-align:left}}.bad{{color:#b03a2e;font-weight:bold}}.ok{{color:#1e8449;font-weight:bold}}
.headline{{border:2px solid #ccc;padding:4px 16px;margin:12px 0;font-size:16px}}
.headline li{{margin:4px 0}}pre{{background:#f6f6f6;padding:8px;font-size:12px}}</style>
</head><body><h1>Double-11 replay, sale {r['run']['sale_id']}</h1>
{headline_section(r)}
{links(r)}
<p>{total} shoppers, {r['run']['stock']} units, time scale {plan.time_scale}
(phases at least {plan.min_phase_s} s), payment window {plan.payment_window_s:.0f} s.</p>
<p>{escape.escape(scale_caveat(r["run"]).strip())}.</p>
{scale_text(r)}
<h2>Targets</h2>{targets}
{checks_section(r["checks"]) if not chaos else ""}
{scorecard_section(r["scorecard"]) if r.get("scorecard") else ""}
{ops_desk_section(r.get("ops_desk"))}
{chaos_section(chaos) if chaos else ""}
{capacity_section(r.get("capacity") or {})}
<h2>Charts</h2>{''.join(f'<div>{c}</div>' for c in charts)}
<h2>Requests per endpoint (Locust)</h2>{table(r['load']['endpoints'])}
<h2>Anti-scalper flags by persona</h2><p>Counted: {escape.escape(r['detection']['counted'])}.
Precision {r['detection']['precision']}, recall {r['detection']['recall']}, genuine FPR
{r['detection']['genuine_fpr']}.</p>{detection}
<h2>Numbers</h2><pre>{escape.escape(json.dumps(numbers, indent=1, default=str))}</pre>
</body></html>"""
