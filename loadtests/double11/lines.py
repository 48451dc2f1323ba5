"""The report's lines that both the text summary (report) and the HTML page (charts) show:
the scale, the arrivals at the peak against the plan, the capacity model, the gate's
buckets. Plain functions of the result's dicts, beneath both."""

from __future__ import annotations

from loadtests import capacity
from loadtests.double11.arrivals import OTHER, PURCHASE, REFRESH


def pct(value) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _at(seconds: float | None) -> str:
    return "not seen" if seconds is None else f"T{seconds:+g} s"


def capacity_lines(c: dict) -> list[str]:
    if "unavailable" in c:
        return [f"  capacity model: not computed ({c['unavailable']})"]
    handled = c["handled"]
    return [f"Capacity for a scale-1 launch (1,108,192 shoppers, curve.csv's peak; "
            f"loadtests.capacity, each core {c['headroom']:.0%} busy), from this run's CPU "
            f"(/proc) over T{c['window_s'][0]:+g} to T{c['window_s'][1]:+g} s: "
            f"{handled['requests']:,} requests answered, {handled['attempts']:,} attempts at "
            f"the gate, {handled['rush_tickets']:,} rush tickets. Celery until the rush was "
            f"over, its tickets written ({_at(c.get('rush_tickets_settled_s'))}) and its "
            f"attempts drained into the risk engine ({_at(c.get('rush_attempts_drained_s'))})"
            f": to T{c['celery_until_s']:+g} s, less its idle "
            f"{c['celery_idle_cpu_per_s'] * 1e3:,.0f} ms a second, charged per attempt (both "
            f"kinds of its work; to be done within {capacity.SETTLE_S:.0f} s of T0)",
            *(f"  {line}" for line in c["lines"]),
            *(["  resting on:"] if c.get("assumptions") else []),
            *(f"    - {line}" for line in c.get("assumptions", []))]


def scale_text(scale: float) -> str:
    return f"{scale:.7f}".rstrip("0").rstrip(".")


def scale_line(run: dict) -> str:
    choice = run["scale_choice"]
    if choice.get("how") != "auto":
        return f"  scale {scale_text(run['scale'])} (given)"
    return (f"  scale {scale_text(run['scale'])} (--scale auto: the stack answered "
            f"{choice['capacity_rps']:,.0f} requests/s with a 200 in the slowest second of "
            f"{choice['probe_s']:g} s; the largest "
            f"scale whose planned peak, {choice['planned_peak_rps']:,.0f}/s, is within "
            f"{choice['margin']:.0%} of it)")


def reach_line(load: dict) -> str:
    p = load["peak_reach"]
    tried = f"; tried {p['tried_rps']:,.0f}/s" if "tried_rps" in p else ""
    return (f"  arrivals at the peak ({p['phase']}, T{p['from_s']:+g} to T{p['to_s']:+g} s): "
            f"answered {p['achieved_rps']:,.0f}/s of {p['planned_rps']:,.0f}/s planned = "
            f"{pct(p['ratio'])} (best second {p['best_second_rps']:,}{tried}; crowd requests "
            f"dropped for want of a slot {p['unsent']:,})   baseline B planned "
            f"{load['planned_baseline_rps']:,.1f}/s, measured {load['baseline_rps']} (Locust)"
            + ("\n" + mix_line(p) if "by_kind_rps" in p else ""))


def mix_line(p: dict) -> str:
    """What the peak's answered arrivals were: nearly all the crowd's refreshes."""
    kinds, share = p["by_kind_rps"], p.get("refresh_share")
    gate = p.get("gate_attempts_rps")
    return (f"    of which the crowd's refreshes of the live state (anonymous, the cheapest "
            f"answer, cached) {pct(share)} ({kinds[REFRESH]:,.0f}/s); purchases "
            f"{kinds[PURCHASE]:,.0f}/s answered"
            + (f", {gate:,.0f}/s purchase attempts at the gate" if gate is not None else "")
            + f"; the journeys' other requests {kinds[OTHER]:,.0f}/s")


def scale_caveat(run: dict) -> str:
    """What this scale leaves of the scalper figures: at a demo's scale they are of a handful
    of units and accounts, and one unit or one account moves them by whole percents. (Units:
    the rush's and the deposit pre-sale's; accounts: every scalper persona's.)"""
    units, ops = run["stock"] + run.get("deposit_stock", 0), run.get("operators") or {}
    scalpers = sum(f.get("accounts", 0) for f in ops.values())
    kinds = {"scalper": "bot", "stealth": "stealth", "ring": "ring", "deposit": "deposit"}

    def fleet(f: dict, kind: str) -> str:
        n = f.get("operators", 0)
        return f"{n} {kind} operator{'' if n == 1 else 's'} ({f.get('accounts', 0)} accounts)"

    fleets = ", ".join(fleet(ops.get(p, {}), kind) for p, kind in kinds.items()
                       if p in ("scalper", "stealth") or ops.get(p, {}).get("accounts"))
    unit = f" (one unit is {100 / units:.2g} %)" if units else ""
    account = f" (one account is {100 / scalpers:.2g} %)" if scalpers else ""
    return (f"  at this scale ({scale_text(run['scale'])}): {run['scale_shoppers']:,} shoppers, "
            f"{units:,} units, {fleets}: the "
            f"scalper share is of {units:,} units{unit} and recall of {scalpers:,} scalper "
            f"accounts{account}, a handful, not rates to compare with a launch's")


def bucket_lines(b: dict) -> list[str]:
    """The gate's buckets (`sales.selectors.SaleBuckets.as_dict`): one line for a sale of one
    bucket, else a line per bucket and whether they add up to the stock."""
    if not b["readable"]:
        return [f"  buckets: cannot be read ({b['error']})"]
    rows = b["buckets"]
    if b["shards"] == 1:
        return ["  buckets: one (the sale is not split across shards)"]
    unaccounted = "unknown" if b["unaccounted"] is None else b["unaccounted"]
    lines = [f"  buckets: {b['shards']} (left + taken + in transit = the stock less "
             f"{unaccounted}; stuck moves in {b['stuck'] or 'none'})"]
    for row in rows:
        lines.append(f"    bucket {row['bucket']} on {row['node'] or 'the one Redis'}: "
                     f"{row['stock_left']} left, {row['taken']} taken, {row['admitted']} "
                     f"admitted; moved in {row['moves_in']} ({row['units_in']} units), out "
                     f"{row['moves_out']} ({row['units_out']}), in transit {row['in_transit']}"
                     + ("" if row["trusted"] else ", NOT trusted"))
    return lines
