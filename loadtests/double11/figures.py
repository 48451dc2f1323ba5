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

from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext as _
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from loadtests.double11 import fonts
from loadtests.double11.labels import LABEL_PT, Axis, boxes, lanes, widths
from loadtests.double11.plan import Plan
from loadtests.double11.readable import phase_name
from loadtests.double11.timeline_series import Panel, events, panels

FILE = "timeline.png"
CHINESE = "zh-hans"
WIDTH_IN, DPI = 12.0, 100
LEFT, RIGHT = 0.07, 0.79            # the panels' edges (figure fractions); legends beyond
PANEL_IN, GAP_IN, LANE_IN = 1.55, 0.6, 0.2
TOP_IN, BOTTOM_IN = 0.5, 0.6
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


def _limits(plan: Plan, rows: list[Panel], marks: list[dict]) -> tuple[float, float]:
    xs = [p.starts_s for p in plan.phases] + [plan.phases[-1].ends_s]
    xs += [x for panel in rows for line in panel.lines for x, _ in line.points]
    xs += [m["at_s"] for m in marks]
    low, high = min(xs), max(xs)
    pad = (high - low) * 0.01 or 1.0
    return low - pad, high + pad


def _strip(fig: Figure, axis: Axis, bottom: float, height: float, name: str,
           placed: list[tuple[float, float]], rows: list[int], texts: list[str],
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
    for (left, _right), lane, text, color in zip(placed, rows, texts, colors, strict=True):
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
    axis = Axis(low, high, left_px=LEFT * WIDTH_IN * DPI,
                width_px=(RIGHT - LEFT) * WIDTH_IN * DPI)
    fig = Figure(figsize=(WIDTH_IN, 4.0), dpi=DPI)
    FigureCanvasAgg(fig)

    phase_texts = [f"{phase_name(p.name)} {duration(p.ends_s - p.starts_s)}"
                   for p in plan.phases]
    phase_boxes = boxes(axis, [(p.starts_s, p.ends_s) for p in plan.phases],
                         widths(fig, phase_texts))
    phase_lanes = lanes(phase_boxes)
    mark_texts = [m["label"] for m in marks]
    mark_boxes = boxes(axis, [(m["at_s"], m["at_s"]) for m in marks], widths(fig, mark_texts))
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
        font = fonts.cjk_font()
        if font is None:
            return None
        style = fonts.font_style(font)
    name = file_for(language)
    with translation.override(language), rc_context(style):
        timeline(r, plan).savefig(Path(out_dir) / name, dpi=DPI)
    return name
