"""The report's first lines: what a manager reads in ten seconds. Did the store hold (nothing
oversold, every invariant of the record met), how many units went how fast, who got them
(genuine shoppers or scalpers), how much of the planned peak arrived, and how many of the
anti-scalper targets were met.

A plain function of the run's record (`report.build`'s result), so that it can be checked on
constructed data, and never a number of its own: each one is read from the record, and one
the record does not have is said to be missing, not guessed.

The sentences speak the active language (Django's gettext): report.json and the terminal
keep them in English, the Chinese page has them in Chinese (charts.html under
`translation.override`).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loadtests.double11.plan import GENUINE_PERSONAS, SCALPER_PERSONAS
from loadtests.double11.readable import phase_name

MISSED_SHOWN = 3        # the missed targets named in the line; the rest are counted


def count(n: int | float) -> str:
    """1,234 rather than 1234; a rate of 1,957.2 a second is 1,957, one of 2.5 stays 2.5."""
    return f"{n:,.0f}" if float(n).is_integer() or abs(n) >= 10 else f"{n:,.1f}"


def share(part: float | None) -> str:
    """A share said the way people say it: 96 %, 13 %, 0.5 %; n/a when there is none."""
    if part is None:
        return _("n/a")
    value = part * 100
    if value >= 10 or value == 0:
        return f"{value:.0f} %"
    text = f"{value:.1f}" if value >= 1 else f"{value:.2g}"
    return f"{text.removesuffix('.0')} %"


def seconds(s: float) -> str:
    return f"{s:,.0f} s" if abs(s) >= 10 else f"{s:.1f} s".replace(".0 s", " s")


def held(r: dict) -> bool:
    """The store held: nothing oversold, nobody over the limit, every invariant check met."""
    inv, checks = r["invariants"], r.get("checks") or {}
    return (inv["oversell"] == 0 and inv["limit_violations"] == 0
            and bool(checks.get("rows")) and not checks.get("broken"))


def verdict_line(r: dict) -> str:
    inv, checks = r["invariants"], r.get("checks") or {}
    rows, broken = checks.get("rows") or [], checks.get("broken") or []
    faults = (r.get("chaos") or {}).get("faults") or []
    through = (ngettext(" through {n} injected fault", " through {n} injected faults",
                        len(faults)).format(n=len(faults)) if faults else "")
    if held(r):
        return _("The store held{through}: no unit oversold ({sold} sold of {stock}), nobody "
                 "over the limit of {limit}, all {checks} invariant checks met.").format(
            through=through, sold=count(inv["units_sold"]), stock=count(inv["stock"]),
            limit=r["run"]["per_user_limit"], checks=len(rows))
    wrong = []
    if inv["oversell"]:
        wrong.append(_("{n} units oversold").format(n=count(inv["oversell"])))
    if inv["limit_violations"]:
        wrong.append(_("{n} buyers over the limit").format(n=count(inv["limit_violations"])))
    if broken:
        wrong.append(_("{broken} of {checks} invariant checks BROKEN ({names})").format(
            broken=len(broken), checks=len(rows), names=", ".join(broken)))
    if not rows:
        wrong.append(_("no invariant was checked"))
    return _("The store did NOT hold{through}: {wrong}.").format(
        through=through, wrong=_("; ").join(wrong))


def sales_line(r: dict) -> str:
    inv, timing, orders = r["invariants"], r["timing"], r["orders"]
    sold = _("{sold} of {stock} units sold").format(sold=count(inv["units_sold"]),
                                                  stock=count(inv["stock"]))
    sold_out = timing.get("sell_out_s")
    speed = (_("the open stock was gone by {s} after the sale opened (1-s samples)").format(
                 s=seconds(sold_out))
             if sold_out is not None else
             _("the open stock never sold out ({n} left)").format(
                 n=count(inv["gate_stock_left"] or 0)))
    settled_by = timing.get("rush_tickets_settled_by_s")
    unsettled = timing.get("rush_tickets_unsettled") or 0
    if unsettled:
        settle = _("{n} rush tickets never settled").format(n=count(unsettled))
    elif settled_by is not None:
        settle = _("every rush ticket settled by T+{s}").format(s=seconds(settled_by))
    else:
        settle = _("no rush ticket was admitted")
    return _("{sold}: {speed}; {settle}; {paid} orders paid.").format(
        sold=sold, speed=speed, settle=settle, paid=count(orders["paid"]))


def stock_line(r: dict) -> str:
    units = r["units"]
    by = units["by_persona"]
    total = units["total"]
    if not total:
        return _("Who got the stock: nobody (no unit held at the end).")
    genuine = sum(by.get(p, 0) for p in GENUINE_PERSONAS)
    scalpers = sum(by.get(p, 0) for p in SCALPER_PERSONAS)
    other = total - genuine - scalpers
    goal = (r.get("scorecard") or {}).get("goals", {}).get("scalper_share_max")
    goal_text = _("; the goal is at most {share}").format(share=share(goal)) \
        if goal is not None else ""
    rest = _(", unlabelled accounts {n}").format(n=count(other)) if other else ""
    where = _(" (the rush and its deposit pre-sale)") if len(units.get("sales", [])) > 1 else ""
    return _("Who got the stock{where}: genuine shoppers {genuine} of {total} units "
             "({genuine_share}), scalpers {scalpers} ({scalper_share}{goal}){rest}.").format(
        where=where, genuine=count(genuine), total=count(total),
        genuine_share=share(genuine / total), scalpers=count(scalpers),
        scalper_share=share(scalpers / total), goal=goal_text, rest=rest)


def peak_line(r: dict) -> str:
    p = r["load"]["peak_reach"]
    window = _("at the peak ({phase}, T{start} to T{end} s)").format(
        phase=phase_name(p["phase"]), start=f"{p['from_s']:+g}", end=f"{p['to_s']:+g}")
    if p["ratio"] is None:
        return _("Load: nothing arrived {window}, of {planned} requests/s planned: 0 % of the "
                 "plan.").format(window=window, planned=count(p["planned_rps"]))
    mix = ""
    if p.get("refresh_share") is not None:
        mix = _("; {share} of them refreshes of the live state").format(
            share=share(p["refresh_share"]))
    if p.get("gate_attempts_rps") is not None:
        mix += _(", {n} purchase attempts/s at the gate").format(n=count(p["gate_attempts_rps"]))
    return _("Load {window}: {achieved} requests/s answered of {planned} planned, {share} of "
             "the plan{mix}.").format(window=window, achieved=count(p["achieved_rps"]),
                                      planned=count(p["planned_rps"]), share=share(p["ratio"]),
                                      mix=mix)


def missed_target(row: dict) -> str:
    """A scorecard row that missed, in the reader's words: its persona (a code) and target."""
    return (f"{row['persona']} {_(row['target'])}"
            + (_(" (not measured)") if row["value"] is None else ""))


def targets_line(r: dict) -> str:
    card = r.get("scorecard")
    if not card or not card.get("rows"):
        return _("Anti-scalper targets: not scored (no scorecard in this record).")
    rows = card["rows"]
    met = sum(1 for row in rows if row["met"])
    if met == len(rows):
        return _("Anti-scalper targets: all {n} met.").format(n=len(rows))
    missed = [missed_target(row) for row in rows if not row["met"]]
    named = _("; ").join(missed[:MISSED_SHOWN])
    more = (_("; and {n} more").format(n=len(missed) - MISSED_SHOWN)
            if len(missed) > MISSED_SHOWN else "")
    return _("Anti-scalper targets: {met} of {total} met; {missed} missed, first "
             "{named}{more}.").format(met=met, total=len(rows), missed=len(missed),
                                      named=named, more=more)


def headline(r: dict) -> dict:
    """{"held": the verdict, "verdict": its sentence, "lines": the other four sentences}."""
    return {"held": held(r), "verdict": verdict_line(r),
            "lines": [sales_line(r), stock_line(r), peak_line(r), targets_line(r)]}
