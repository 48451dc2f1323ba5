"""What the replay's timeline shows, taken from the run's record and its plan: each panel's
lines (arrivals planned and answered, the reach each second, shoppers, purchases, stock,
queue, latency, the 503s of a chaos run) and the events strip's moments (faults, the
sell-out, the rush's last ticket, the invariant checks). Drawing them is
`loadtests.double11.figures`; keeping the two apart lets the tests read what a figure
would show without drawing it."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from loadtests.double11.plan import Plan
from loadtests.double11.readable import phase_name


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
