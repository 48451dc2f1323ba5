"""The report's lines that both the text summary (report) and the HTML page (charts) show:
the scale, the arrivals at the peak against the plan, the capacity model. Plain functions of
the result's dicts, beneath both."""

from __future__ import annotations


def pct(value) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def capacity_lines(c: dict) -> list[str]:
    if "unavailable" in c:
        return [f"  capacity model: not computed ({c['unavailable']})"]
    handled = c["handled"]
    return [f"Capacity for a scale-1 launch (1,108,192 shoppers, curve.csv's peak; "
            f"loadtests.capacity, each core {c['headroom']:.0%} busy), from this run's CPU "
            f"(/proc) over T{c['window_s'][0]:+g} to T{c['window_s'][1]:+g} s: "
            f"{handled['requests']:,} requests, {handled['attempts']:,} attempts, "
            f"{handled['rush_tickets']:,} rush tickets (Celery until they were written, less "
            f"its idle {c['celery_idle_cpu_per_s'] * 1e3:,.0f} ms a second)",
            *(f"  {line}" for line in c["lines"])]


def scale_text(scale: float) -> str:
    return f"{scale:.7f}".rstrip("0").rstrip(".")


def scale_line(run: dict) -> str:
    choice = run["scale_choice"]
    if choice.get("how") != "auto":
        return f"  scale {scale_text(run['scale'])} (given)"
    return (f"  scale {scale_text(run['scale'])} (--scale auto: the stack answered "
            f"{choice['capacity_rps']:,.0f} requests/s in the slowest second of "
            f"{choice['probe_s']:g} s; the largest "
            f"scale whose planned peak, {choice['planned_peak_rps']:,.0f}/s, is within "
            f"{choice['margin']:.0%} of it)")


def reach_line(load: dict) -> str:
    p = load["peak_reach"]
    return (f"  arrivals at the peak ({p['phase']}, T{p['from_s']:+g} to T{p['to_s']:+g} s): "
            f"sent {p['achieved_rps']:,.0f}/s of {p['planned_rps']:,.0f}/s planned = "
            f"{pct(p['ratio'])} (best second {p['best_second_rps']:,}; crowd requests "
            f"dropped for want of a slot {p['unsent']:,})   baseline B planned "
            f"{load['planned_baseline_rps']:,.1f}/s, measured {load['baseline_rps']} (Locust)")
