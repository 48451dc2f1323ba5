"""Constructed replay records (the shape `report.build` writes), for the headline's and the
figures' tests: every number is chosen here, so a test can say which ones the report must
state."""

from __future__ import annotations

from loadtests.double11.plan import Plan, payment_window_s, timeline
from loadtests.double11.scorecard import GOALS

CHECKS = ("holding_within_stock", "nobody_over_limit", "tickets_end_once", "units_conserved",
          "one_charge_per_order", "counters_agree")


def a_plan(*, time_scale: float = 0.05, min_phase_s: float = 5.0, shoppers: int = 100) -> Plan:
    return Plan(sale_id=7, t0=1_000_000.0, ends_at=1_000_300.0, time_scale=time_scale,
                min_phase_s=min_phase_s,
                payment_window_s=payment_window_s(time_scale=time_scale, min_phase_s=min_phase_s),
                per_user_limit=2, password="x", accounts=[None] * shoppers, out_dir="/tmp",
                baseline_rps=40.0, phases=timeline(time_scale=time_scale, min_phase_s=min_phase_s))


def scorecard(*, met: int, missed: list[str]) -> dict:
    rows = [{"persona": "p", "target": f"target {n}", "goal": "", "value": 1, "met": True}
            for n in range(met)]
    rows += [{"persona": name.split(": ")[0], "target": name.split(": ")[1], "goal": "",
              "value": None if name.endswith("precision") else 0, "met": False}
             for name in missed]
    return {"goals": GOALS, "rows": rows, "missed": missed, "personas": {}, "overall": {}}


def a_record(*, stock: int = 8, sold: int = 8, oversell: int = 0, limit_violations: int = 0,
             broken: tuple[str, ...] = (), checked_at_s: float = 200.0,
             sell_out_s: float | None = 3.2, settled_by_s: float | None = 12.0, paid: int = 7,
             by_persona: dict[str, int] | None = None, achieved_rps: float = 2490.0,
             planned_rps: float = 2591.0, ratio: float | None = 0.961,
             refresh_share: float | None = 0.96, gate_attempts_rps: float | None = 83.0,
             card: dict | None = None, chaos: dict | None = None,
             series: dict | None = None) -> dict:
    by_persona = {"fan": 5, "fcode": 1, "scalper": 1, "ring": 1} if by_persona is None \
        else by_persona
    record = {
        "run": {"sale_id": 7, "per_user_limit": 2},
        "invariants": {"units_sold": sold, "stock": stock, "oversell": oversell,
                       "limit_violations": limit_violations, "gate_stock_left": stock - sold},
        "checks": {"at_s": checked_at_s,
                   "rows": [{"invariant": name, "value": "", "met": name not in broken,
                             "detail": ""} for name in CHECKS],
                   "broken": list(broken)},
        "timing": {"sell_out_s": sell_out_s, "rush_tickets_settled_by_s": settled_by_s,
                   "rush_tickets_unsettled": 0},
        "orders": {"paid": paid},
        "units": {"by_persona": by_persona, "total": sum(by_persona.values())},
        "scorecard": card if card is not None else scorecard(
            met=12, missed=["ring: recall", "ring: precision", "stealth: recall",
                            "household: false-positive rate (trap)",
                            "overall: recall", "overall: precision"]),
        "load": {"peak_reach": {"phase": "spike", "from_s": 0.0, "to_s": 5.0,
                                "planned_rps": planned_rps, "achieved_rps": achieved_rps,
                                "ratio": ratio, "refresh_share": refresh_share,
                                "gate_attempts_rps": gate_attempts_rps}},
        "series": series or {"gate": [], "locust": [], "admissions_per_s": [],
                             "orders_per_s": [], "payments_per_s": []},
    }
    if chaos is not None:
        record["chaos"] = chaos
    return record
