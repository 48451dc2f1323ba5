"""The report's lines that both the text summary (report) and the HTML page (charts) show:
the scale, the arrivals at the peak against the plan, the capacity model, the gate's
buckets. Plain functions of the result's dicts, beneath both, in the active language (the
terminal's English, or the Chinese page's: charts.html under `translation.override`); the
indent the terminal wants is not part of a sentence."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loadtests import capacity
from loadtests.double11.arrivals import OTHER, PURCHASE, REFRESH


def pct(value) -> str:
    return _("n/a") if value is None else f"{value * 100:.1f} %"


def _at(seconds: float | None) -> str:
    return _("not seen") if seconds is None else f"T{seconds:+g} s"


def capacity_lines(c: dict) -> list[str]:
    if "unavailable" in c:
        return ["  " + _("capacity model: not computed ({why})").format(
            why=_(c["unavailable"]))]
    handled = c["handled"]
    return [_("Capacity for a scale-1 launch (1,108,192 shoppers, curve.csv's peak; "
              "loadtests.capacity, each core {headroom} busy), from this run's CPU (/proc) over "
              "T{start} to T{end} s: {requests} requests answered, {attempts} attempts at the "
              "gate, {tickets} rush tickets. Celery until the rush was over, its tickets "
              "written ({settled}) and its attempts drained into the risk engine ({drained}): "
              "to T{until} s, less its idle {idle} ms a second, charged per attempt (both kinds "
              "of its work; to be done within {settle} s of T0)").format(
                headroom=f"{c['headroom']:.0%}", start=f"{c['window_s'][0]:+g}",
                end=f"{c['window_s'][1]:+g}", requests=f"{handled['requests']:,}",
                attempts=f"{handled['attempts']:,}", tickets=f"{handled['rush_tickets']:,}",
                settled=_at(c.get("rush_tickets_settled_s")),
                drained=_at(c.get("rush_attempts_drained_s")),
                until=f"{c['celery_until_s']:+g}",
                idle=f"{c['celery_idle_cpu_per_s'] * 1e3:,.0f}",
                settle=f"{capacity.SETTLE_S:.0f}"),
            *(f"  {line}" for line in c["lines"]),
            *(["  " + _("resting on:")] if c.get("assumptions") else []),
            *(f"    - {line}" for line in c.get("assumptions", []))]


def scale_text(scale: float) -> str:
    return f"{scale:.7f}".rstrip("0").rstrip(".")


def scale_line(run: dict) -> str:
    choice = run["scale_choice"]
    if choice.get("how") != "auto":
        return "  " + _("scale {scale} (given)").format(scale=scale_text(run["scale"]))
    return "  " + _("scale {scale} (--scale auto: the stack answered {capacity} requests/s with "
                    "a 200 in the slowest second of {probe} s; the largest scale whose planned "
                    "peak, {peak}/s, is within {margin} of it)").format(
        scale=scale_text(run["scale"]), capacity=f"{choice['capacity_rps']:,.0f}",
        probe=f"{choice['probe_s']:g}", peak=f"{choice['planned_peak_rps']:,.0f}",
        margin=f"{choice['margin']:.0%}")


def reach_line(load: dict) -> str:
    from loadtests.double11.readable import phase_name

    p = load["peak_reach"]
    tried = (_("; tried {n}/s").format(n=f"{p['tried_rps']:,.0f}") if "tried_rps" in p
             else "")
    return ("  " + _("arrivals at the peak ({phase}, T{start} to T{end} s): answered "
                     "{achieved}/s of {planned}/s planned = {share} (best second {best}{tried}; "
                     "crowd requests dropped for want of a slot {unsent})   baseline B planned "
                     "{baseline}/s, measured {measured} (Locust)").format(
                phase=phase_name(p["phase"]), start=f"{p['from_s']:+g}",
                end=f"{p['to_s']:+g}", achieved=f"{p['achieved_rps']:,.0f}",
                planned=f"{p['planned_rps']:,.0f}", share=pct(p["ratio"]),
                best=f"{p['best_second_rps']:,}", tried=tried, unsent=f"{p['unsent']:,}",
                baseline=f"{load['planned_baseline_rps']:,.1f}",
                measured=load["baseline_rps"] if load["baseline_rps"] is not None
                else _("n/a"))
            + ("\n" + mix_line(p) if "by_kind_rps" in p else ""))


def mix_line(p: dict) -> str:
    """What the peak's answered arrivals were: nearly all the crowd's refreshes."""
    kinds, share = p["by_kind_rps"], p.get("refresh_share")
    gate = p.get("gate_attempts_rps")
    return "    " + _("of which the crowd's refreshes of the live state (anonymous, the "
                      "cheapest answer, cached) {share} ({refresh}/s); purchases {purchase}/s "
                      "answered{gate}; the journeys' other requests {other}/s").format(
        share=pct(share), refresh=f"{kinds[REFRESH]:,.0f}", purchase=f"{kinds[PURCHASE]:,.0f}",
        gate=(_(", {n}/s purchase attempts at the gate").format(n=f"{gate:,.0f}")
              if gate is not None else ""),
        other=f"{kinds[OTHER]:,.0f}")


def scale_caveat(run: dict) -> str:
    """What this scale leaves of the scalper figures: at a demo's scale they are of a handful
    of units and accounts, and one unit or one account moves them by whole percents. (Units:
    the rush's and the deposit pre-sale's; accounts: every scalper persona's.)"""
    units, ops = run["stock"] + run.get("deposit_stock", 0), run.get("operators") or {}
    scalpers = sum(f.get("accounts", 0) for f in ops.values())
    kinds = {"scalper": "bot", "stealth": "stealth", "ring": "ring", "deposit": "deposit"}

    def fleet(f: dict, kind: str) -> str:
        n = f.get("operators", 0)
        return ngettext("{n} {kind} operator ({accounts} accounts)",
                        "{n} {kind} operators ({accounts} accounts)", n).format(
            n=n, kind=kind, accounts=f.get("accounts", 0))

    fleets = ", ".join(fleet(ops.get(p, {}), kind) for p, kind in kinds.items()
                       if p in ("scalper", "stealth") or ops.get(p, {}).get("accounts"))
    unit = _(" (one unit is {share} %)").format(share=f"{100 / units:.2g}") if units else ""
    account = (_(" (one account is {share} %)").format(share=f"{100 / scalpers:.2g}")
               if scalpers else "")
    return "  " + _("at this scale ({scale}): {shoppers} shoppers, {units} units, {fleets}: the "
                    "scalper share is of {units} units{unit} and recall of {scalpers} scalper "
                    "accounts{account}, a handful, not rates to compare with a launch's").format(
        scale=scale_text(run["scale"]), shoppers=f"{run['scale_shoppers']:,}",
        units=f"{units:,}", fleets=fleets, unit=unit, scalpers=f"{scalpers:,}",
        account=account)


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
