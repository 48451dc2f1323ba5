"""The replay's report, from the record (database), the gate (Redis), the client-side labels
and Locust's CSV: JSON, HTML with charts, and a terminal summary with the targets.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Min, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from loadtests.double11 import figures, pages, scorecard
from loadtests.double11.arrivals import REFRESH
from loadtests.double11.evidence import (
    arrivals_load,
    attempts_of,
    cancelled_at,
    decided_at,
    endpoints,
    first_admissions,
    flagged_accounts,
    history,
    labels_load,
    ring_cases,
)
from loadtests.double11.headline import headline
from loadtests.double11.locusts import REPORT as LOCUST_REPORT
from loadtests.double11.plan import (
    GENUINE_PERSONAS,
    PERSONAS,
    SCALPER_PERSONAS,
    Plan,
)
from loadtests.double11.reach import arrivals_series, peak_reach, per_second
from loadtests.double11.reach import ratio as _ratio
from loadtests.double11.sizing import capacity_assumptions, run_capacity, rush_drained
from loadtests.double11.targets import targets
from sales import invariants, selectors, services
from sales.gate import holdings
from sales.models import FlashSale, RejectedTicket, StockReturn
from shop.models import Order, OrderLine, Payment


def operators(plan: Plan) -> dict[str, dict]:
    """The fleets of this plan: how many operators drive how many accounts, per persona."""
    result = {}
    for persona in SCALPER_PERSONAS:
        accounts = [a for a in plan.accounts if a is not None and a.persona == persona]
        result[persona] = {"operators": len({a.operator for a in accounts}),
                           "accounts": len(accounts)}
    return result


def detection(labels: dict[str, dict], flagged: set[int], ids: dict[str, int]) -> dict:
    """Precision, recall and false-positive rates of the flags against the client's labels."""
    by_persona = {}
    for persona in PERSONAS:
        accounts = [ids[u] for u, label in labels.items()
                    if label["persona"] == persona and u in ids]
        hits = sum(1 for user in accounts if user in flagged)
        by_persona[persona] = {"accounts": len(accounts), "flagged": hits,
                               "rate": _ratio(hits, len(accounts))}
    labelled = {ids[u]: label["persona"] for u, label in labels.items() if u in ids}
    flagged_labelled = [u for u in flagged if u in labelled]
    true_pos = sum(1 for u in flagged_labelled if labelled[u] in SCALPER_PERSONAS)
    scalpers = sum(by_persona[p]["accounts"] for p in SCALPER_PERSONAS)
    genuine = sum(by_persona[p]["accounts"] for p in GENUINE_PERSONAS)
    genuine_flagged = sum(by_persona[p]["flagged"] for p in GENUINE_PERSONAS)
    return {"flagged": len(flagged_labelled), "precision": _ratio(true_pos, len(flagged_labelled)),
            "recall": _ratio(true_pos, scalpers),
            "genuine_fpr": _ratio(genuine_flagged, genuine),
            "campus_fpr": by_persona["campus"]["rate"], "by_persona": by_persona}


def checks_made(*, sale_id: int, t0: float, out_dir: Path, chaos: dict | None) -> dict:
    """The invariants of `sales.invariants` on the record, and when (seconds from T0) they
    were checked: a chaos run's verdict made them after its faults; any other run has them
    made here, with the tickets its shoppers were acknowledged."""
    if chaos is not None:
        return {"at_s": chaos.get("checked_s"), "rows": chaos["invariants"],
                "broken": chaos["broken"]}
    from loadtests.double11.verdict import acknowledged

    made = invariants.sale_invariants(
        sale_id=sale_id, tickets=list(acknowledged(out_dir, sale_id=sale_id)))
    return {"at_s": round(time.time() - t0, 2),
            "rows": [{"invariant": c.name, "value": c.value, "met": c.met, "detail": c.detail}
                     for c in made],
            "broken": [c.name for c in invariants.broken(made)]}


def build(plan: Plan, series: list[dict], out_dir: Path, *, chaos: dict | None = None,
          scale_choice: dict | None = None, ops: dict | None = None) -> dict:
    """The report: the record (report.json, in English whatever language is active: machines
    read it) and its pages in both languages (pages.py)."""
    with translation.override("en"):
        result = _record(plan, series, out_dir, chaos=chaos, scale_choice=scale_choice,
                         ops=ops)
    result["charts"] = figures.file_for("en")
    result["pages"] = pages.write(result, plan, out_dir, database=connection.vendor)
    (out_dir / "report.json").write_text(json.dumps(result, indent=1, default=str))
    return result


def _record(plan: Plan, series: list[dict], out_dir: Path, *, chaos: dict | None,
            scale_choice: dict | None, ops: dict | None) -> dict:
    """The record; `chaos` is a chaos run's verdict (`verdict.chaos_verdict`): its faults go
    on the charts' time axis and its invariants into a table of their own; `scale_choice`
    says how the scale was chosen (`--scale auto`: what was measured); `ops` what the ops
    desk answered (ops_desk.summary; None: nobody was on duty)."""
    sale = FlashSale.objects.get(pk=plan.sale_id)
    t0 = plan.t0
    held = services.units_held(sale_id=sale.pk)
    labels, client_errors = labels_load(out_dir)
    ids = dict(get_user_model().objects.filter(username__in=list(labels))
               .values_list("username", "id"))
    persona_of = {ids[u]: label["persona"] for u, label in labels.items() if u in ids}

    state = holdings.state(sale_id=sale.pk, shards=sale.shards)
    buckets = selectors.sale_buckets(sale=sale)
    admitted = buckets.total("admitted")  # every bucket's own ticket count
    orders = Order.objects.filter(sale_id=sale.pk)
    confirmed = orders.filter(ticket__isnull=False).count()
    rejected = Counter(RejectedTicket.objects.filter(sale_id=sale.pk)
                       .values_list("reason", flat=True))
    statuses = Counter(orders.values_list("status", flat=True))
    first_return = StockReturn.objects.filter(sale_id=sale.pk).aggregate(m=Min("created_at"))["m"]
    returned_units = StockReturn.objects.filter(sale_id=sale.pk) \
        .aggregate(u=Sum("quantity"))["u"] or 0
    later_units = 0
    if first_return:
        later_units = OrderLine.objects.filter(order__sale_id=sale.pk,
                                               order__created_at__gt=first_return) \
            .aggregate(u=Sum("quantity"))["u"] or 0

    attempts = attempts_of(sale_id=sale.pk, merged=True)
    verdicts = Counter(a["verdict"] for a in attempts)
    sold_out_t = next((g["t"] for g in series if g["t"] >= 0 and g["stock_left"] == 0), None)
    admitted_at = {a["ticket"]: a["at"] / 1000 for a in attempts if a["verdict"] == "admitted"}
    settled_at = {t: c.timestamp() for t, c in orders.filter(ticket__isnull=False)
                  .values_list("ticket", "created_at")}
    settled_at.update({t: c.timestamp() for t, c in RejectedTicket.objects
                       .filter(sale_id=sale.pk).values_list("ticket", "created_at")})
    latencies = [settled_at[t] - at for t, at in admitted_at.items() if t in settled_at]
    rush_end = plan.end_of("decay")
    rush_settled = [settled_at[t] for t, at in admitted_at.items()
                    if at < rush_end and t in settled_at]
    rush_unsettled = sum(1 for t, at in admitted_at.items() if at < rush_end
                         and t not in settled_at)
    drain_s = round(max(rush_settled) - t0, 2) if rush_settled else None
    paid_at = [p.timestamp() - t0 for p in Payment.objects.filter(
        order__sale_id=sale.pk, status="succeeded").values_list("created_at", flat=True)]

    # The anti-scalper figures count every sale of the run (the deposit pre-sale beside the
    # rush); the invariants above and below are the main sale's.
    sale_ids = [sale.pk] + ([plan.deposit_sale_id] if plan.deposit_sale_id else [])
    units_all: Counter = Counter(held.by_user)
    every_attempt = list(attempts)
    flagged, flag_source = flagged_accounts(sale_id=sale.pk)
    for other in sale_ids[1:]:
        units_all.update(services.units_held(sale_id=other).by_user)
        every_attempt += attempts_of(sale_id=other, merged=True)
        flagged |= flagged_accounts(sale_id=other)[0]
    units_by_persona: Counter = Counter()
    for user, units in units_all.items():
        units_by_persona[persona_of.get(user, "unlabelled")] += units
    scalper_units = sum(units_by_persona[p] for p in SCALPER_PERSONAS)
    card = scorecard.score(persona_of=persona_of, units=dict(units_all), flagged=flagged,
                           cases=ring_cases(sale_ids=sale_ids),
                           admitted_at=first_admissions(every_attempt),
                           decided_at=decided_at(sale_ids=sale_ids),
                           cancelled_at=cancelled_at(sale_ids=sale_ids))
    detect = detection(labels, flagged, ids)
    detect["counted"] = flag_source
    hist = history(out_dir, t0)
    wait = [h["rps"] for h in hist if plan.at("wait") - t0 <= h["t"] < 0]
    baseline = statistics.median(wait) if wait else None
    arrivals = arrivals_load(out_dir)
    answered = arrivals.answered
    answered_per_s, planned_per_s = arrivals_series(plan, answered)

    if chaos is not None:
        # The gate's ticket counter restarts with Redis: count the shoppers' 202s instead,
        # and the tickets Redis lost as the rejections (gate_lost) the API answers.
        admitted = chaos["counts"]["acknowledged_tickets"]
        if chaos["counts"]["rejected_gate_lost"]:
            rejected["gate_lost"] += chaos["counts"]["rejected_gate_lost"]
    result = {
        "run_dir": str(out_dir),
        "run": {"sale_id": sale.pk, "scale": plan.scale,
                "scale_choice": scale_choice or {"how": "given", "scale": plan.scale},
                "scale_shoppers": len(plan.accounts), "stock": sale.stock,
                "deposit_stock": FlashSale.objects.get(pk=plan.deposit_sale_id).stock
                if plan.deposit_sale_id else 0,
                "fcode_quota": sale.fcode_quota, "per_user_limit": sale.per_user_limit,
                "time_scale": plan.time_scale, "min_phase_s": plan.min_phase_s,
                "payment_window_s": plan.payment_window_s, "seed": plan.seed,
                "t0": timezone.datetime.fromtimestamp(t0, tz=timezone.get_current_timezone())
                .isoformat(),
                "phases": [{"name": p.name, "starts_s": p.starts_s, "ends_s": p.ends_s,
                            "arrivals_x_b": p.arrivals_x_b, "real": [p.real_starts_s,
                                                                     p.real_ends_s]}
                           for p in plan.phases],
                "personas": dict(Counter(label["persona"] for label in labels.values())),
                "operators": operators(plan), "locust_report": LOCUST_REPORT,
                "locust_report_written": (out_dir / LOCUST_REPORT).exists()},
        "invariants": {
            "units_sold": held.total, "stock": sale.stock,
            "oversell": max(0, held.total - sale.stock),
            "limit_violations": sum(1 for u in held.by_user.values() if u > sale.per_user_limit),
            "gate_stock_left": state.stock_left, "gate_fcode_left": state.fcode_stock_left,
            "queued_at_end": state.queued,
            "tickets_admitted": admitted, "tickets_confirmed": confirmed,
            "tickets_rejected": sum(rejected.values()), "rejected_by_reason": dict(rejected),
            "tickets_unresolved": admitted - confirmed - sum(rejected.values()),
        },
        "buckets": buckets.as_dict(),
        "orders": {"by_status": dict(statuses), "paid": statuses.get("paid", 0),
                   "expired": statuses.get("expired", 0),
                   "awaiting_payment_at_end": statuses.get("awaiting_payment", 0),
                   "units_returned": returned_units,
                   "units_resold": min(returned_units, later_units)},
        "timing": {"sell_out_s": sold_out_t,
                   "rush_tickets_settled_by_s": drain_s,
                   "rush_tickets_unsettled": rush_unsettled,
                   "ticket_settle_p50_s": round(statistics.median(latencies), 2)
                   if latencies else None,
                   "ticket_settle_max_s": round(max(latencies), 2) if latencies else None},
        "attempts": {"total": len(attempts), "by_verdict": dict(verdicts)},
        "load": {"endpoints": endpoints(out_dir), "baseline_rps": baseline,
                 "planned_baseline_rps": plan.baseline_rps,
                 "peak_rps": max((h["rps"] for h in hist), default=None),
                 "peak_reach": peak_reach(plan, answered, arrivals.unsent,
                                          tried=arrivals.tried, by_kind=arrivals.by_kind,
                                          gate_attempts=[a["at"] / 1000 for a in attempts]),
                 "requests_answered": sum(answered.values()),
                 "requests_tried": sum(arrivals.tried.values()),
                 "crowd_unsent": sum(arrivals.unsent.values()),
                 "client_errors": client_errors},
        "units": {"by_persona": dict(units_by_persona), "sales": sale_ids,
                  "total": sum(units_all.values()),
                  "scalper_share": _ratio(scalper_units, sum(units_all.values()))},
        "checks": checks_made(sale_id=sale.pk, t0=t0, out_dir=out_dir, chaos=chaos),
        "scorecard": card,
        "detection": detect,
        "series": {"gate": series, "locust": hist,
                   "answered_per_s": answered_per_s, "planned_per_s": planned_per_s,
                   "tried_per_s": [[second - t0, n] for second, n in
                                   sorted(arrivals.tried.items())],
                   "refresh_per_s": [[second - t0, n] for second, n in
                                     sorted(arrivals.kind(REFRESH).items())],
                   "admissions_per_s": per_second([a["at"] / 1000 - t0 for a in attempts
                                                   if a["verdict"] == "admitted"]),
                   "attempts_per_s": per_second([a["at"] / 1000 - t0 for a in attempts]),
                   "orders_per_s": per_second([s - t0 for s in settled_at.values()]),
                   "payments_per_s": per_second(paid_at)},
    }
    result["ops_desk"] = ops or {"rule": gettext_noop(
        "nobody on duty (--no-ops-desk): ring cases stay open, claimed rings keep their units")}
    if chaos is not None:
        result["chaos"] = chaos
        result["capacity"] = {"unavailable": gettext_noop(
            "a chaos run restarts Redis and kills workers")}
    else:
        result["capacity"] = run_capacity(plan, series, answered, attempts, len(rush_settled),
                                          drain_s, sale.stock,
                                          rush_drained(series, attempts, rush_end, t0))
        if "unavailable" not in result["capacity"]:
            result["capacity"]["assumptions"] = capacity_assumptions(
                plan, result["load"]["peak_reach"], connection.vendor)
    result["targets"] = targets(result)
    result["headline"] = headline(result)
    return result
