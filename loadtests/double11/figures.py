"""The replay's charts: one matplotlib figure (Agg, no display) written as timeline.png beside
report.html, every panel on one time axis, seconds from T0.

Why one figure with a shared x axis: a 5-s spike must line up with the queue it fills, the
stock it empties and the fault that hit it; panels with limits of their own would each be
read against another clock. Above the panels, a strip names the phases and another the
events (the faults a chaos run injected, the sell-out, the rush's last ticket, the invariant
checks); the labels of each strip are measured with matplotlib's renderer and put in lanes
so that none overlaps another, however short the phases. Ticks read as people read numbers
(7,190, 72k, 1.2M; never 7.19e+03), and every axis names its unit.

The figure speaks the language active when it is drawn (`write(..., language=)`): the
Chinese one is drawn in a CJK font found on the machine (matplotlib's default has no Han
glyphs and would draw boxes), and its labels are measured in that font, so the lanes hold
for Chinese widths too. With no CJK font there is no Chinese figure (`write` says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext as _
from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from loadtests.double11.plan import Plan
from loadtests.double11.readable import phase_name

FILE = "timeline.png"
CHINESE = "zh-hans"
# Fonts with the Han glyphs, the first installed one used (CI installs fonts-wqy-microhei).
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
             "Droid Sans Fallback", "AR PL UMing CN")
WIDTH_IN, DPI = 12.0, 100
LEFT, RIGHT = 0.07, 0.79            # the panels' edges (figure fractions); legends beyond
PANEL_IN, GAP_IN, LANE_IN = 1.55, 0.6, 0.2
TOP_IN, BOTTOM_IN = 0.5, 0.6
LABEL_PT = 8
LANE_GAP_PX = 6.0                   # the least room between two labels of one lane
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
FAULT, MET, MILESTONE = "#b03a2e", "#1e8449", "#566573"
RATIO_SHOWN_MAX = 2.0               # the ratio panel stops at 200 % (the ramp's first seconds)



def tick_number(value: float, _position: object = None) -> str:
    """A tick people read: 7,190 and 12.5 as they are, 72k and 1.2M past five digits; never
    a power of ten."""
    size = abs(value)
    if size >= 1e6:
        text, unit = f"{value / 1e6:,.2f}", "M"
    elif size >= 1e4:
        text, unit = f"{value / 1e3:,.1f}", "k"
    elif size >= 1 or size == 0:
        text, unit = f"{value:,.2f}", ""
    else:
        text, unit = f"{value:.4f}", ""
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return ("0" if text in ("-0", "") else text) + unit


def seconds_tick(value: float, _position: object = None) -> str:
    """Seconds from T0, signed: -60, 0, +30."""
    return "0" if round(value) == 0 else f"{value:+,.0f}"


def duration(s: float) -> str:
    """A phase's length: 27 s, 5 s, 0.12 s."""
    return f"{s:,.0f} s" if s >= 10 else f"{s:.2g} s"


@dataclass
class Line:
    label: str
    points: list            # [[seconds from T0, value], ...]
    style: dict = field(default_factory=dict)


@dataclass
class Panel:
    title: str
    y_label: str            # with its unit
    lines: list[Line]
    percent: bool = False
    goal: float | None = None       # a goal line (the ratio's 80 %)
    span: tuple[float, float] | None = None     # a window to shade (the peak)


def planned_arrivals(plan: Plan) -> list[list[float]]:
    """The plan's request arrivals (the curve's multiples of B), ten points a phase."""
    points = []
    for phase in plan.phases:
        for n in range(11):
            t = phase.starts_s + (phase.ends_s - phase.starts_s) * min(n / 10, 0.999)
            points.append([t, plan.planned_rps(plan.t0 + t)])
    return points


def reach_per_second(answered: list, planned: list) -> list[list[float]]:
    """Achieved / planned for each second the plan asked for something."""
    asked = {t: n for t, n in planned}
    return [[t, n / asked[t]] for t, n in answered if asked.get(t)]


def panels(r: dict, plan: Plan) -> list[Panel]:
    """What each panel draws, from the record (the report's series and the plan)."""
    s = r["series"]
    gate, hist = s["gate"], s["locust"]
    total = len(plan.accounts)
    reach = r["load"]["peak_reach"]
    stated = (_("nothing arrived") if reach["ratio"] is None else
              _("{ratio} % of the plan ({achieved} of {planned} requests/s)").format(
                  ratio=f"{reach['ratio'] * 100:.1f}", achieved=f"{reach['achieved_rps']:,.0f}",
                  planned=f"{reach['planned_rps']:,.0f}"))
    dashed = {"linestyle": "--"}
    result = [
        Panel(_("Arrivals: planned (curve x B) and answered (the shoppers' own log)"),
              _("requests/s"), [
                  Line(_("answered"), s.get("answered_per_s", [])),
                  Line(_("of which crowd refreshes"), s.get("refresh_per_s", [])),
                  Line(_("tried (answered or not)"), s.get("tried_per_s", [])),
                  Line(_("planned"), planned_arrivals(plan), dashed),
                  Line(_("Locust (10-s average)"), [[h["t"], h["rps"]] for h in hist])]),
        Panel(_("Achieved / planned arrivals, each second; at the peak ({phase}, shaded): "
                "{stated}").format(phase=phase_name(reach["phase"]), stated=stated),
              _("answered / planned"),
              [Line(_("answered / planned"), reach_per_second(
                  s.get("answered_per_s", []), s.get("planned_per_s", [])))],
              percent=True, goal=0.8, span=(reach["from_s"], reach["to_s"])),
        Panel(_("Shoppers: planned and achieved (Locust users)"), _("shoppers"), [
            Line(_("achieved"), [[h["t"], h["users"]] for h in hist]),
            Line(_("planned"), [[t, plan.users_at(plan.t0 + t) * total] for t in
                                [p.starts_s for p in plan.phases] + [plan.phases[-1].ends_s]],
                 dashed)]),
        Panel(_("Purchases"), _("per second"), [
            Line(_("admitted (gate)"), s["admissions_per_s"]),
            Line(_("orders written (pipeline)"), s["orders_per_s"]),
            Line(_("payments"), s["payments_per_s"])]),
        Panel(_("Stock left (gate)"), _("units"), [
            Line(_("open stock"), [[g["t"], g["stock_left"]] for g in gate]),
            Line(_("F-code quota"), [[g["t"], g["fcode_left"]] for g in gate])]),
        Panel(_("Queue: tickets waiting for the pipeline"), _("tickets"),
              [Line(_("queued"), [[g["t"], g["queued"]] for g in gate])]),
        Panel(_("Latency, all requests (Locust, 10-s window)"), "ms", [
            Line("p50", [[h["t"], h["p50"]] for h in hist]),
            Line("p95", [[h["t"], h["p95"]] for h in hist]),
            Line("p99", [[h["t"], h["p99"]] for h in hist])]),
    ]
    if r.get("chaos"):
        result.insert(4, Panel(_("Answers 503 (shoppers' view)"), _("per second"), [
            Line(code, points) for code, points in r["chaos"]["errors_per_s"].items()]))
    return result


def events(r: dict) -> list[dict]:
    """What happened when, for the events strip and the lines across the panels: each fault
    a chaos run injected, the open stock's sell-out, the rush's last ticket settled, and the
    invariant checks (met or BROKEN) at the moment they were made. (A fault's label is the
    command it ran, FLUSHALL or SIGKILL: a name, in either language.)"""
    result = []
    for f in (r.get("chaos") or {}).get("faults", []):
        at = f["done_s"] if f["done_s"] is not None else f["at_s"]
        result.append({"at_s": at, "kind": "fault", "ok": f["ok"],
                       "label": f["label"] + ("" if f["ok"] else _(" (failed)")),
                       "since_s": f.get("since_s"), "until_s": f.get("until_s")})
    timing = r["timing"]
    if timing.get("sell_out_s") is not None:
        result.append({"at_s": timing["sell_out_s"], "kind": "milestone", "ok": True,
                       "label": _("open stock seen sold out")})
    if timing.get("rush_tickets_settled_by_s") is not None:
        result.append({"at_s": timing["rush_tickets_settled_by_s"], "kind": "milestone",
                       "ok": True, "label": _("last rush ticket settled")})
    checks = r.get("checks") or {}
    if checks.get("at_s") is not None:
        rows, broken = checks["rows"], checks["broken"]
        label = (_("invariants: all {n} met").format(n=len(rows)) if not broken else
                 _("invariants BROKEN: {names}").format(names=", ".join(broken)))
        result.append({"at_s": checks["at_s"], "kind": "check", "ok": not broken,
                       "label": label})
    return sorted(result, key=lambda e: e["at_s"])


def lanes(boxes: list[tuple[float, float]], gap: float = LANE_GAP_PX) -> list[int]:
    """For each box (left, right), the first lane where it stays `gap` clear of every box
    already in that lane: no two boxes of a lane overlap, and no more lanes than needed."""
    taken: list[list[tuple[float, float]]] = []
    result = []
    for left, right in boxes:
        lane = next((n for n, placed in enumerate(taken)
                     if all(right + gap <= a or left >= b + gap for a, b in placed)),
                    len(taken))
        if lane == len(taken):
            taken.append([])
        taken[lane].append((left, right))
        result.append(lane)
    return result


def _limits(plan: Plan, rows: list[Panel], marks: list[dict]) -> tuple[float, float]:
    xs = [p.starts_s for p in plan.phases] + [plan.phases[-1].ends_s]
    xs += [x for panel in rows for line in panel.lines for x, _ in line.points]
    xs += [m["at_s"] for m in marks]
    low, high = min(xs), max(xs)
    pad = (high - low) * 0.01 or 1.0
    return low - pad, high + pad


class _Axis:
    """Seconds from T0 to display pixels along the panels (their edges are fixed)."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high
        self.left = LEFT * WIDTH_IN * DPI
        self.width = (RIGHT - LEFT) * WIDTH_IN * DPI

    def px(self, t: float) -> float:
        return self.left + (t - self.low) / (self.high - self.low) * self.width

    def seconds(self, px: float) -> float:
        return self.low + (px - self.left) / self.width * (self.high - self.low)


def _widths(fig: Figure, texts: list[str]) -> list[float]:
    """Each label's width in display pixels, from the renderer (it depends on the font and
    the dpi only, not on where the label will go)."""
    renderer = fig.canvas.get_renderer()
    result = []
    for text in texts:
        probe = fig.text(0, 0, text, fontsize=LABEL_PT)
        result.append(probe.get_window_extent(renderer).width)
        probe.remove()
    return result


def _boxes(axis: _Axis, anchors: list[tuple[float, float]], widths: list[float]
           ) -> list[tuple[float, float]]:
    """A label in its span when it fits there (centred), else from the span's start; one
    that would pass the panels' right edge ends left of its moment (an event) or at the
    edge (a span)."""
    right_edge = axis.left + axis.width
    result = []
    for (start, end), width in zip(anchors, widths, strict=True):
        a, b = axis.px(start), axis.px(end)
        left = (a + b - width) / 2 if b - a >= width + 4 else a + 3
        if left + width > right_edge:
            left = a - 3 - width if a == b else right_edge - width
        left = max(left, axis.left)
        result.append((left, left + width))
    return result


def _strip(fig: Figure, axis: _Axis, bottom: float, height: float, name: str,
           boxes: list[tuple[float, float]], rows: list[int], texts: list[str],
           colors: list[str], gid: str, sharex) -> object:
    ax = fig.add_axes((LEFT, bottom, RIGHT - LEFT, height), sharex=sharex)
    count = max(rows, default=0) + 1
    ax.set_ylim(count, 0)
    ax.set_yticks([])
    ax.tick_params(axis="x", bottom=False, labelbottom=False)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.text(-0.005, 0.5, name, transform=ax.transAxes, ha="right", va="center",
            fontsize=LABEL_PT + 1, fontweight="bold")
    for (left, _right), lane, text, color in zip(boxes, rows, texts, colors, strict=True):
        # on white, above the lines: a cluster of events draws lines through its labels
        ax.text(axis.seconds(left), lane + 0.5, text, fontsize=LABEL_PT, color=color,
                ha="left", va="center", gid=gid, zorder=3,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6, "alpha": 0.9})
    return ax


def _mark(ax, mark: dict) -> None:
    """A fault (red, dashed when it failed; its span shaded), a milestone (grey) or the
    invariant checks (green, red when broken), as a line at its moment."""
    color = {"fault": FAULT, "milestone": MILESTONE}.get(mark["kind"],
                                                         MET if mark["ok"] else FAULT)
    style = "-" if mark["kind"] == "fault" and mark["ok"] else (
        ":" if mark["kind"] == "milestone" else "--")
    since, until = mark.get("since_s"), mark.get("until_s")
    if since is not None or until is not None:
        ax.axvspan(since if since is not None else mark["at_s"],
                   until if until is not None else mark["at_s"], color=FAULT, alpha=0.10,
                   linewidth=0, gid="fault-span")
    ax.axvline(mark["at_s"], color=color, linestyle=style, linewidth=1.1,
               gid=f"{mark['kind']}-line")


def _panel(ax, panel: Panel, plan: Plan, marks: list[dict]) -> None:
    for phase in plan.phases[1:]:
        ax.axvline(phase.starts_s, color="#bbbbbb", linestyle=(0, (3, 3)), linewidth=0.8)
    if panel.span is not None:
        ax.axvspan(*panel.span, color=COLORS[0], alpha=0.08, linewidth=0)
    for mark in marks:
        _mark(ax, mark)
    drawn = 0
    for n, line in enumerate(panel.lines):
        points = [(x, y) for x, y in line.points if y is not None]
        if panel.percent:
            points = [(x, min(y, RATIO_SHOWN_MAX)) for x, y in points]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, color=COLORS[n % len(COLORS)], linewidth=1.4, label=line.label,
                    **line.style)
            drawn += 1
    if panel.goal is not None:
        ax.axhline(panel.goal, color=MET, linewidth=1.0, linestyle="--",
                   label=_("goal {share}").format(share=f"{panel.goal:.0%}"))
    if not drawn:
        ax.text(0.5, 0.5, _("nothing recorded"), transform=ax.transAxes, ha="center",
                va="center", color=MILESTONE)
    ax.set_title(panel.title, loc="left", fontsize=LABEL_PT + 2, fontweight="bold")
    ax.set_ylabel(panel.y_label, fontsize=LABEL_PT + 1)
    ax.set_ylim(bottom=0)
    if panel.percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.set_ylim(0, max(ax.get_ylim()[1], (panel.goal or 0) * 1.25))
    else:
        # counts: at least 0 to 1, so that a panel of zeros has no tick of 0.015 tickets
        ax.set_ylim(0, max(ax.get_ylim()[1], 1.0))
        ax.yaxis.set_major_formatter(FuncFormatter(tick_number))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(seconds_tick))
    ax.tick_params(labelsize=LABEL_PT, labelbottom=True)
    ax.grid(axis="y", color="#eeeeee", linewidth=0.8)
    if drawn or panel.goal is not None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=LABEL_PT,
                  frameon=False, borderaxespad=0)


def timeline(r: dict, plan: Plan) -> Figure:
    """The figure: the phase strip, the events strip, then the panels, sharing x."""
    rows, marks = panels(r, plan), events(r)
    low, high = _limits(plan, rows, marks)
    axis = _Axis(low, high)
    fig = Figure(figsize=(WIDTH_IN, 4.0), dpi=DPI)
    FigureCanvasAgg(fig)

    phase_texts = [f"{phase_name(p.name)} {duration(p.ends_s - p.starts_s)}"
                   for p in plan.phases]
    phase_boxes = _boxes(axis, [(p.starts_s, p.ends_s) for p in plan.phases],
                         _widths(fig, phase_texts))
    phase_lanes = lanes(phase_boxes)
    mark_texts = [m["label"] for m in marks]
    mark_boxes = _boxes(axis, [(m["at_s"], m["at_s"]) for m in marks], _widths(fig, mark_texts))
    mark_lanes = lanes(mark_boxes)
    phase_h = (max(phase_lanes, default=0) + 1) * LANE_IN
    mark_h = (max(mark_lanes, default=0) + 1) * LANE_IN
    height = TOP_IN + phase_h + 0.08 + mark_h + len(rows) * (GAP_IN + PANEL_IN) + BOTTOM_IN
    fig.set_size_inches(WIDTH_IN, height)

    def frac(inches: float) -> float:
        return inches / height

    top = height - TOP_IN
    fig.text(LEFT, 1 - frac(0.3), _("Double-11 replay, sale {sale}: every panel on one time "
                                    "axis, seconds from T0 (the sale opens at 0)").format(
                                        sale=r["run"]["sale_id"]),
             fontsize=LABEL_PT + 4, fontweight="bold")
    first = fig.add_axes((LEFT, frac(BOTTOM_IN), RIGHT - LEFT, frac(PANEL_IN)))
    first.set_xlim(low, high)
    strip = _strip(fig, axis, frac(top - phase_h), frac(phase_h), _("phases"), phase_boxes,
                   phase_lanes, phase_texts, ["#444444"] * len(phase_texts), "phase-label",
                   first)
    for n, phase in enumerate(plan.phases):
        strip.axvspan(phase.starts_s, phase.ends_s, color="#e8e8e8" if n % 2 else "#f4f4f4",
                      linewidth=0)
    top -= phase_h + 0.08
    colors = [{"fault": FAULT, "milestone": MILESTONE}.get(m["kind"], MET if m["ok"]
                                                           else FAULT) for m in marks]
    events_ax = _strip(fig, axis, frac(top - mark_h), frac(mark_h), _("events"), mark_boxes,
                       mark_lanes, mark_texts, colors, "event-label", first)
    for mark in marks:
        _mark(events_ax, mark)
    top -= mark_h
    for n, panel in enumerate(rows):
        top -= GAP_IN + PANEL_IN
        ax = first if n == len(rows) - 1 else fig.add_axes(
            (LEFT, frac(top), RIGHT - LEFT, frac(PANEL_IN)), sharex=first)
        _panel(ax, panel, plan, marks)
    first.set_xlabel(_("seconds from T0 (the sale opens at 0; -60 is a minute before)"),
                     fontsize=LABEL_PT + 1)
    first.set_xlim(low, high)
    return fig


def cjk_font() -> str | None:
    """The first installed font of CJK_FONTS (matplotlib's own list of the machine's fonts),
    or None."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def font_style(font: str) -> dict:
    """matplotlib's settings for a figure in `font`: the Han glyphs from it, anything it
    lacks from matplotlib's default; an ASCII minus (not every CJK font has U+2212)."""
    return {"font.family": "sans-serif", "font.sans-serif": [font, "DejaVu Sans"],
            "axes.unicode_minus": False}


def file_for(language: str) -> str:
    """timeline.png (English, the name links and tests have always used) or
    timeline.<language>.png."""
    return FILE if language == "en" else f"timeline.{language}.png"


def write(r: dict, plan: Plan, out_dir: Path, *, language: str = "en") -> str | None:
    """Draw the figure in `language` into the run's directory; its file name, for the page
    to show, or None when the language needs a font this machine does not have (Chinese
    without a CJK font: boxes are no figure). Fonts are the figure's own (rc_context), never
    the process's: ticks and legends are made when it is saved, so both happen inside."""
    style = {}
    if language == CHINESE:
        font = cjk_font()
        if font is None:
            return None
        style = font_style(font)
    name = file_for(language)
    with translation.override(language), rc_context(style):
        timeline(r, plan).savefig(Path(out_dir) / name, dpi=DPI)
    return name
