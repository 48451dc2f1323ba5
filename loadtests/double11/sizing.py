"""The capacity model from a replay: each tier's CPU over the rush (sampled from /proc),
divided by what it handled (requests answered, attempts at the gate, the rush's tickets and
attempts drained), through `loadtests.capacity` for a scale-1 launch, with what it rests on."""

from __future__ import annotations

from dataclasses import asdict

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from loadtests import capacity
from loadtests.double11.lines import pct
from loadtests.double11.plan import (
    RESERVATIONS_AT_SCALE_1,
    UNITS_AT_SCALE_1,
    Plan,
    planned_peak_rps,
)
from loadtests.double11.reach import peak_reach

TARGETS = {"oversell": 0, "limit_violations": 0, "resolved_within_s": 60.0,
           "scalper_share_max": 0.02, "genuine_fpr_max": 0.005, "precision_min": 0.95,
           "recall_min": 0.90, "peak_reach_min": 0.80}


def _point(series: list[dict], t: float, *, before: bool) -> dict | None:
    """The last sample with CPU figures at or before t, or the first at or after it."""
    points = [g for g in series if g.get("cpu")]
    if before:
        return next((g for g in reversed(points) if g["t"] <= t), None)
    return next((g for g in points if g["t"] >= t), None)


def _used(a: dict, b: dict, tier: str) -> float:
    return max(b["cpu"].get(tier, 0.0) - a["cpu"].get(tier, 0.0), 0.0)


def run_capacity(plan: Plan, series: list[dict], answered: dict[int, int], attempts: list[dict],
                 rush_tickets: int, rush_settled_s: float | None, stock: int,
                 rush_drained_s: float | None = None) -> dict:
    """The capacity model (loadtests.capacity) for a scale-1 launch, from this run: each tier's
    CPU over the rush (the spike and the decay) from /proc, divided by what it handled.

    Celery's work for the rush goes on after it: its tickets are written (`rush_settled_s`)
    and its attempts drained into the risk engine (`rush_drained_s`, None when not seen) some
    seconds later. Its CPU is counted from the rush's start until the rush is over and both
    are done, less what it spends idle (beat's sweeps and watches, as measured over the wait
    phase), and charged to the rush's attempts (capacity.py: one worker does both, so a
    replay cannot tell them apart)."""
    t0 = plan.t0
    start, end = plan.at(plan.peak.name) - t0, plan.end_of("decay") - t0
    a, b = _point(series, start, before=True), _point(series, end, before=False)
    if a is None or b is None:
        return {"unavailable": gettext_noop(
            "no CPU samples around the rush (not Linux, or a chaos run)")}
    requests = sum(n for second, n in answered.items()
                   if a["t"] <= second + 0.5 - t0 < b["t"])
    tried = sum(1 for x in attempts if a["t"] <= x["at"] / 1000 - t0 < b["t"])
    done_s = max([end] + [s for s in (rush_settled_s, rush_drained_s) if s is not None])
    c = _point(series, done_s, before=False) or _point(series, series[-1]["t"], before=True)
    c = c if c["t"] >= b["t"] else b
    w1, w2 = _point(series, plan.at("wait") - t0, before=False), _point(series, 0, before=True)
    idle = (_used(w1, w2, "celery") / (w2["t"] - w1["t"])
            if w1 and w2 and w2["t"] > w1["t"] else 0.0)
    celery = max(_used(a, c, "celery") - idle * (c["t"] - a["t"]), 0.0)
    if not (requests and tried and rush_tickets):
        return {"unavailable": f"too little in the rush to divide by ({requests} requests, "
                               f"{tried} attempts, {rush_tickets} tickets)"}
    costs = capacity.Costs(web_per_request=_used(a, b, "web") / requests,
                           redis_per_attempt=_used(a, b, "redis") / tried,
                           celery_per_ticket=0.0, celery_per_attempt=celery / tried,
                           locust_per_request=_used(a, b, "locust") / requests)
    peak = peak_reach(plan, answered)
    shoppers_1 = RESERVATIONS_AT_SCALE_1 / max(len(plan.accounts), 1)
    peak_tried = sum(1 for x in attempts if peak["from_s"] <= x["at"] / 1000 - t0 < peak["to_s"])
    load = capacity.Load(
        peak_rps=planned_peak_rps(scale=1.0),
        peak_attempts_rps=peak_tried / max(peak["seconds"], 1) * shoppers_1,
        tickets_per_s=rush_tickets * UNITS_AT_SCALE_1 / max(stock, 1) / capacity.SETTLE_S,
        rush_attempts_per_s=tried * shoppers_1 / capacity.SETTLE_S)
    return {"window_s": [a["t"], b["t"]], "celery_until_s": c["t"],
            "rush_tickets_settled_s": rush_settled_s, "rush_attempts_drained_s": rush_drained_s,
            "celery_idle_cpu_per_s": round(idle, 4),
            "handled": {"requests": requests, "attempts": tried, "rush_tickets": rush_tickets},
            "cpu_s": {tier: round(_used(a, b, tier), 2) for tier in ("web", "redis", "locust")}
            | {"celery": round(celery, 2)},
            "costs_us": {k: round(v * 1e6, 1) for k, v in asdict(costs).items()},
            "scale_1_load": {k: round(v, 1) for k, v in asdict(load).items()},
            "headroom": capacity.HEADROOM, "need": capacity.need(costs, load),
            "need_shown": capacity.shown(capacity.need(costs, load)),
            "shown_to": f"{capacity.SHOWN_FIGURES} significant figures",
            "lines": capacity.describe(costs, load)}


def capacity_assumptions(plan: Plan, reach: dict, database: str) -> list[str]:
    """What the replay's capacity figures rest on, said where they are printed (in the active
    language: the record's English, or a page's)."""
    share = reach.get("refresh_share")
    spike_s = plan.peak.ends_s - plan.peak.starts_s
    sqlite = database == "sqlite"
    measured_on = (_("SQLite (one writer, a commit per batch: a launch runs PostgreSQL, where "
                     "`make bench`'s pipeline and risk rows measure these apart)")
                   if sqlite else database)
    return [
        _("precision: counts and costs to {figures} significant figures; on these shared cores "
          "they swing by about 30 % from one run to the next").format(
            figures=capacity.SHOWN_FIGURES),
        _("request mix: web and Locust CPU per request is this run's mix, in which {share} of "
          "the peak's answered arrivals were the crowd's anonymous refreshes of the live state "
          "(the cheapest answer, cached); a launch whose peak holds more purchases costs more a "
          "request, and a CDN in front of the live state would take most of the web count away "
          "(the model counts on none)").format(share=pct(share)),
        _("headroom: every core planned {headroom} busy at the peak").format(
            headroom=f"{capacity.HEADROOM:.0%}"),
        _("Redis: all of its CPU over the rush (ticket polls, Celery's broker, beat, the risk "
          "feed's reads) charged to the gate's attempts, which overstates an attempt; a shard "
          "is one core, and one sale's stock is one key (more than one shard means splitting "
          "it, issue 17)"),
        _("Celery: its pipeline and its risk feed together, charged per attempt, done within "
          "{settle} s of T0; measured on {database}; at a handful of tickets and attempts its "
          "fixed costs (a batch, a task) weigh most").format(
            settle=f"{capacity.SETTLE_S:.0f}", database=measured_on),
        _("time: the spike compressed to {spike} s (the real one lasts {real} s) and bots "
          "retrying every {pause} s move the attempts a second at the peak, the first "
          "upwards").format(spike=f"{spike_s:g}",
                            real=f"{plan.peak.real_ends_s - plan.peak.real_starts_s:g}",
                            pause=f"{plan.bot_pause_s:g}"),
    ]


def rush_drained(series: list[dict], attempts: list[dict], rush_end: float,
                 t0: float) -> float | None:
    """When the risk feed had moved every attempt decided before the rush's end into the
    anti-scalper signals: the first sample whose count of them (`signals_rush`) reaches the
    gate's, in seconds from T0; None if no sample saw it."""
    due = sum(1 for x in attempts if x["at"] / 1000 < rush_end)
    return next((g["t"] for g in series if due and g.get("signals_rush") is not None
                 and g["signals_rush"] >= due), None)
