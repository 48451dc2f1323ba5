"""The report as one self-contained HTML page: tables and inline SVG line charts drawn here
(no plotting library, no network)."""

from __future__ import annotations

import html as escape
import json

from loadtests.double11.plan import Plan

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


def line_chart(title: str, lines: list[tuple[str, list]], plan: Plan, *, y_label: str = "",
               width: int = 760, height: int = 240) -> str:
    """Lines of (label, [[t, y], ...]) against seconds from T0, with the phases marked."""
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
    for phase in plan.phases:
        x = sx(phase.starts_s)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
                     f'stroke="#ccc" stroke-dasharray="3,3"/>'
                     f'<text x="{x + 2:.1f}" y="{top + 10}" fill="#888">{phase.name}</text>')
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
    for n, (label, data) in enumerate(lines):
        color = COLORS[n % len(COLORS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in data if y is not None)
        if path:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" '
                         f'points="{path}"/>')
        parts.append(f'<text x="{left + 8 + 150 * n}" y="{height - 4}" fill="{color}">'
                     f'&#9632; {escape.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def planned_arrivals(plan: Plan, baseline: float | None) -> list[list[float]]:
    """The curve's arrival multiples of B, as requests/s, with B measured in the wait phase."""
    if not baseline:
        return []
    points = []
    for phase in plan.phases:
        points += [[phase.starts_s, phase.arrivals_x_b * baseline],
                   [phase.ends_s, phase.arrivals_x_b * baseline]]
    return points


def table(rows: list[dict]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{escape.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{escape.escape(str(v))}</td>" for v in row.values())
                   + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def html(r: dict, plan: Plan) -> str:
    s = r["series"]
    gate, hist = s["gate"], s["locust"]
    total = len(plan.accounts)
    charts = [
        line_chart("Arrivals: planned (curve x measured baseline B) vs achieved", [
            ("achieved requests/s", [[h["t"], h["rps"]] for h in hist]),
            ("planned requests/s", planned_arrivals(plan, r["load"]["baseline_rps"]))],
            plan, y_label="requests/s"),
        line_chart("Shoppers: planned vs achieved (Locust users)", [
            ("achieved users", [[h["t"], h["users"]] for h in hist]),
            ("planned users", [[t, plan.users_at(plan.t0 + t) * total] for t in
                               [p.starts_s for p in plan.phases] + [plan.phases[-1].ends_s]])],
            plan, y_label="users"),
        line_chart("Purchases per second", [
            ("admitted/s (gate)", s["admissions_per_s"]),
            ("orders written/s (pipeline)", s["orders_per_s"]),
            ("payments/s", s["payments_per_s"])], plan, y_label="per second"),
        line_chart("Stock left (gate)", [
            ("open stock", [[g["t"], g["stock_left"]] for g in gate]),
            ("F-code quota", [[g["t"], g["fcode_left"]] for g in gate])], plan, y_label="units"),
        line_chart("Queue depth (tickets waiting for the pipeline)",
                   [("queued", [[g["t"], g["queued"]] for g in gate])], plan, y_label="tickets"),
        line_chart("Latency percentiles (all requests, Locust)", [
            ("p50", [[h["t"], h["p50"]] for h in hist]),
            ("p95", [[h["t"], h["p95"]] for h in hist]),
            ("p99", [[h["t"], h["p99"]] for h in hist])], plan, y_label="ms"),
    ]
    targets = table([{"target": t["target"], "value": t["value"], "goal": t["goal"],
                      "verdict": "met" if t["met"] else "MISSED"} for t in r["targets"]])
    detection = table([{"persona": p, **v} for p, v in r["detection"]["by_persona"].items()])
    numbers = {k: r[k] for k in ("invariants", "orders", "timing", "units", "attempts")}
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Double-11 replay, sale {r['run']['sale_id']}</title>
<style>body{{font-family:sans-serif;margin:24px;max-width:1000px}}
table{{border-collapse:collapse;margin:8px 0}}td,th{{border:1px solid #ccc;padding:3px 8px;
font-size:13px;text-align:left}}pre{{background:#f6f6f6;padding:8px;font-size:12px}}</style>
</head><body><h1>Double-11 replay, sale {r['run']['sale_id']}</h1>
<p>{total} shoppers, {r['run']['stock']} units, time scale {plan.time_scale}
(phases at least {plan.min_phase_s} s), payment window {plan.payment_window_s:.0f} s.
Locust's own report: <a href="locust.html">locust.html</a>.</p>
<h2>Targets</h2>{targets}
<h2>Charts</h2>{''.join(f'<div>{c}</div>' for c in charts)}
<h2>Requests per endpoint (Locust)</h2>{table(r['load']['endpoints'])}
<h2>Anti-scalper flags by persona</h2><p>Counted: {escape.escape(r['detection']['counted'])}.
Precision {r['detection']['precision']}, recall {r['detection']['recall']}, genuine FPR
{r['detection']['genuine_fpr']}.</p>{detection}
<h2>Numbers</h2><pre>{escape.escape(json.dumps(numbers, indent=1, default=str))}</pre>
</body></html>"""
