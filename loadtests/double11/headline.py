"""The report's first lines: what a manager reads in ten seconds. Did the store hold (nothing
oversold, every invariant of the record met), how many units went how fast, who got them
(genuine shoppers or scalpers), how much of the planned peak arrived, and how many of the
anti-scalper targets were met.

A plain function of the run's record (`report.build`'s result), so that it can be checked on
constructed data, and never a number of its own: each one is read from the record, and one
the record does not have is said to be missing, not guessed.
"""

from __future__ import annotations

from loadtests.double11.plan import GENUINE_PERSONAS, SCALPER_PERSONAS

MISSED_SHOWN = 3        # the missed targets named in the line; the rest are counted


def count(n: int | float) -> str:
    """1,234 rather than 1234; a rate of 1,957.2 a second is 1,957, one of 2.5 stays 2.5."""
    return f"{n:,.0f}" if float(n).is_integer() or abs(n) >= 10 else f"{n:,.1f}"


def share(part: float | None) -> str:
    """A share said the way people say it: 96 %, 13 %, 0.5 %; n/a when there is none."""
    if part is None:
        return "n/a"
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
    through = (f" through {len(faults)} injected fault{'s' if len(faults) != 1 else ''}"
               if faults else "")
    if held(r):
        return (f"The store held{through}: no unit oversold ({count(inv['units_sold'])} "
                f"sold of {count(inv['stock'])}), nobody over the limit of "
                f"{r['run']['per_user_limit']}, all {len(rows)} invariant checks met.")
    wrong = []
    if inv["oversell"]:
        wrong.append(f"{count(inv['oversell'])} units oversold")
    if inv["limit_violations"]:
        wrong.append(f"{count(inv['limit_violations'])} buyers over the limit")
    if broken:
        wrong.append(f"{len(broken)} of {len(rows)} invariant checks BROKEN "
                     f"({', '.join(broken)})")
    if not rows:
        wrong.append("no invariant was checked")
    return f"The store did NOT hold{through}: {'; '.join(wrong)}."


def sales_line(r: dict) -> str:
    inv, timing, orders = r["invariants"], r["timing"], r["orders"]
    sold = f"{count(inv['units_sold'])} of {count(inv['stock'])} units sold"
    sold_out = timing.get("sell_out_s")
    speed = (f"the open stock was gone by {seconds(sold_out)} after the sale opened (1-s "
             f"samples)"
             if sold_out is not None else
             f"the open stock never sold out ({count(inv['gate_stock_left'] or 0)} left)")
    settled_by = timing.get("rush_tickets_settled_by_s")
    unsettled = timing.get("rush_tickets_unsettled") or 0
    if unsettled:
        settle = f"{count(unsettled)} rush tickets never settled"
    elif settled_by is not None:
        settle = f"every rush ticket settled by T+{seconds(settled_by)}"
    else:
        settle = "no rush ticket was admitted"
    return f"{sold}: {speed}; {settle}; {count(orders['paid'])} orders paid."


def stock_line(r: dict) -> str:
    units = r["units"]
    by = units["by_persona"]
    total = units["total"]
    if not total:
        return "Who got the stock: nobody (no unit held at the end)."
    genuine = sum(by.get(p, 0) for p in GENUINE_PERSONAS)
    scalpers = sum(by.get(p, 0) for p in SCALPER_PERSONAS)
    other = total - genuine - scalpers
    goal = (r.get("scorecard") or {}).get("goals", {}).get("scalper_share_max")
    goal_text = f"; the goal is at most {share(goal)}" if goal is not None else ""
    rest = f", unlabelled accounts {count(other)}" if other else ""
    where = " (the rush and its deposit pre-sale)" if len(units.get("sales", [])) > 1 else ""
    return (f"Who got the stock{where}: genuine shoppers {count(genuine)} of {count(total)} "
            f"units ({share(genuine / total)}), scalpers {count(scalpers)} "
            f"({share(scalpers / total)}{goal_text}){rest}.")


def peak_line(r: dict) -> str:
    p = r["load"]["peak_reach"]
    window = f"at the peak ({p['phase']}, T{p['from_s']:+g} to T{p['to_s']:+g} s)"
    if p["ratio"] is None:
        return (f"Load: nothing arrived {window}, of {count(p['planned_rps'])} "
                f"requests/s planned: 0 % of the plan.")
    mix = ""
    if p.get("refresh_share") is not None:
        mix = f"; {share(p['refresh_share'])} of them refreshes of the live state"
    if p.get("gate_attempts_rps") is not None:
        mix += f", {count(p['gate_attempts_rps'])} purchase attempts/s at the gate"
    return (f"Load {window}: {count(p['achieved_rps'])} requests/s answered of "
            f"{count(p['planned_rps'])} planned, {share(p['ratio'])} of the plan{mix}.")


def targets_line(r: dict) -> str:
    card = r.get("scorecard")
    if not card or not card.get("rows"):
        return "Anti-scalper targets: not scored (no scorecard in this record)."
    rows = card["rows"]
    met = sum(1 for row in rows if row["met"])
    if met == len(rows):
        return f"Anti-scalper targets: all {len(rows)} met."
    missed = [f"{row['persona']} {row['target']}"
              + (" (not measured)" if row["value"] is None else "")
              for row in rows if not row["met"]]
    named = "; ".join(missed[:MISSED_SHOWN])
    more = f"; and {len(missed) - MISSED_SHOWN} more" if len(missed) > MISSED_SHOWN else ""
    return (f"Anti-scalper targets: {met} of {len(rows)} met; {len(missed)} missed, first "
            f"{named}{more}.")


def headline(r: dict) -> dict:
    """{"held": the verdict, "verdict": its sentence, "lines": the other four sentences}."""
    return {"held": held(r), "verdict": verdict_line(r),
            "lines": [sales_line(r), stock_line(r), peak_line(r), targets_line(r)]}
