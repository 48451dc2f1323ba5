"""`make bench`'s arithmetic and its tables: paired ratios, the targets, BENCHMARKS.md's text.

Kept apart from the running (loadtests.bench) so that the verdicts can be tested on made-up
figures. Every ratio is the median of the rounds' own ratios: this VM's speed drifts by tens of
percent from minute to minute, and two measurements of one round drift far less than two
medians taken apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from loadtests import capacity, cputime, servers, shard_bench


@dataclass
class Figures:
    rounds: dict[str, list[dict]] = field(default_factory=dict)
    pipeline: dict = field(default_factory=dict)
    risk: dict = field(default_factory=dict)  # risk scoring, from loadtests.risk_bench
    shards: list = field(default_factory=list)  # loadtests.shard_bench's rows, 1 to 3 shards
    serving: str = servers.DEFAULT  # the server the project's rows ran on

    def add(self, name: str, result: dict) -> None:
        self.rounds.setdefault(name, []).append(result)

    def rps(self, name: str) -> float:
        return statistics.median(r["rps"] for r in self.rounds[name])

    def paired_ratio(self, top: str, bottom: str) -> tuple[float, float, float]:
        """Median, lowest and highest of top/bottom over the rounds, each round's own."""
        ratios = [t["rps"] / b["rps"] for t, b in zip(self.rounds[top], self.rounds[bottom],
                                                       strict=True)]
        return statistics.median(ratios), min(ratios), max(ratios)

    def latency(self, name: str, which: str) -> float:
        return statistics.median(r[which] for r in self.rounds[name])

    def cpu(self, name: str, group: str) -> float | None:
        values = [r["cpu_us"][group] for r in self.rounds.get(name, []) if r.get("cpu_us")]
        return statistics.median(values) if values else None


def purchase_key(server: str) -> str:
    return f"b:{server}"


def _no_cpu_ratio(figures: Figures) -> float | None:
    return None


@dataclass(frozen=True)
class Target:
    """One line of the targets table: a figure from the run against its minimum."""

    label: str
    minimum: float
    measure: Callable[[Figures], tuple[float, str]]  # the value, and how it is written
    # the same ratio from CPU per request (all groups): what it would be were every row bound
    # by these cores alone, which drifts far less with other people's load than requests/s
    by_cpu: Callable[[Figures], float | None] = _no_cpu_ratio


def cpu_ratio(figures: Figures, top: str, bottom: str) -> float | None:
    """How many `top` requests the CPU of one `bottom` request pays for."""
    costs = [sum(figures.cpu(key, g) or 0.0 for g in cputime.GROUPS) for key in (top, bottom)]
    return costs[1] / costs[0] if all(costs) else None


def paired(label: str, minimum: float, top: Callable[[Figures], str], bottom: str) -> Target:
    def measure(figures: Figures) -> tuple[float, str]:
        median, low, high = figures.paired_ratio(top(figures), bottom)
        return median, f"{median:.2f} x (rounds: {low:.2f} to {high:.2f})"
    return Target(label, minimum, measure, lambda f: cpu_ratio(f, top(f), bottom))


def _pipeline(figures: Figures) -> tuple[float, str]:
    d = figures.pipeline["orders_per_s"]
    return d, f"{d:,.0f}"


def _risk(figures: Figures) -> tuple[float, str]:
    rate = figures.risk["attempts_per_core_s"]
    return rate, f"{rate:,.0f}"


def _serving_purchase(figures: Figures) -> str:
    return purchase_key(figures.serving)


TARGETS = (
    paired("(b) >= 0.7 x (L)", 0.7, _serving_purchase, "L"),
    paired("(b) >= 3 x (a0)", 3.0, _serving_purchase, "a0"),
    paired("(e) >= 0.7 x bare GET", 0.7, lambda f: "e", "bare"),
    Target("risk scoring >= 10,000 attempts/s per core", 10_000.0, _risk),
    Target("(d) >= 10,000 orders/s", 10_000.0, _pipeline),
)

# Go flash-sale systems' published figures (issue 15): their own hardware and load generator.
GO_ANCHORS = (
    ("GuoZhaoran/spikeSystem (Go)", 4276, "a low-spec Mac, ab -c 100"),
    ("CCDD2022/seckill-system (Go)", 4484, "a 4-core VM"),
)


def verdict(value: float, target: float) -> str:
    return "met" if value >= target else "MISSED"


def rows(serving: str) -> list[tuple[str, str, str]]:
    """(label, key, server) of the main table, in the order written."""
    label = servers.LABELS[serving]
    return [
        ("(a0) GET /auth/whoami, DRF (reference)", "a0", servers.LABELS["gthread"]),
        ("(b) POST /sales/{id}/purchase, gate", purchase_key(serving), label),
        ("(L) limit: bare WSGI, JWT + JSON + one EVALSHA of admit.lua", "L", label),
        ("(L3) floor: bare WSGI, JWT + JSON + one EVALSHA of 3 commands", "L3", label),
        ("(e) POST /sales/{id}/purchase, sold out", "e", label),
        ("(bare) bare WSGI GET", "bare", label),
        ("(bare POST) bare WSGI POST: a purchase's request, body read, nothing decided",
         "bare_post", label),
        ("(c) POST /sales/{id}/purchase, row lock", "c", label),
        ("(f) GET /sales/{id}/ storefront page, anonymous", "f", label),
        ("(g) GET /sales/{id}/live.json", "g", label),
    ]


def _statuses(figures: Figures, key: str) -> dict[str, int]:
    statuses: dict[str, int] = {}
    for result in figures.rounds[key]:
        for code, count in result["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    return statuses


# The rows that must be real admissions: a refusal (busy, rate limited) costs less than an
# admission, so a row with many of them would flatter its ratios.
ADMISSION_ROWS = ("L", "L3")
ADMITTED = "202"
REFUSED_SHARE_MAX = 0.01


def refusal_warnings(figures: Figures) -> list[str]:
    """A line for each purchase row of which more than 1 % of answers were not admissions."""
    lines = []
    for key in [*(k for k in figures.rounds if k.startswith("b:")), *ADMISSION_ROWS]:
        statuses = _statuses(figures, key) if key in figures.rounds else {}
        answered = sum(statuses.values())
        refused = answered - statuses.get(ADMITTED, 0)
        if answered and refused / answered > REFUSED_SHARE_MAX:
            lines.append(f"WARNING: ({key}) {refused:,} of {answered:,} answers "
                         f"({refused / answered:.0%}) were not admissions {statuses}: its "
                         "requests/s overstate the purchase.")
    return lines


def main_table(figures: Figures) -> list[str]:
    lines = ["| measurement | server | requests/s | p50 ms | p99 ms | statuses |",
             "|---|---|---:|---:|---:|---|"]
    for label, key, server in rows(figures.serving):
        if key not in figures.rounds:
            continue
        lines.append(f"| {label} | {server} | {figures.rps(key):,.0f} "
                     f"| {figures.latency(key, 'p50_ms'):.1f} "
                     f"| {figures.latency(key, 'p99_ms'):.1f} | {_statuses(figures, key)} |")
    if figures.pipeline:
        p = figures.pipeline
        lines.append(f"| (d) pipeline to PostgreSQL | | {p['orders_per_s']:,.0f} orders/s | | | "
                     f"{p['settled']:,} tickets in {p['seconds']} s |")
    return lines


def server_table(figures: Figures) -> list[str]:
    """(b) on every server compared, on the same shape and in the same rounds."""
    compared = [k for k in servers.KINDS if purchase_key(k) in figures.rounds]
    if not compared:
        return []
    base = purchase_key("gthread") if "gthread" in compared else None
    lines = ["(b) POST /sales/{id}/purchase on each server (same shape, same rounds):", "",
             "| server | purchases/s | x gunicorn gthread (rounds) | p50 ms | p99 ms "
             "| web CPU us per purchase |", "|---|---:|---|---:|---:|---:|"]
    for kind in compared:
        key = purchase_key(kind)
        ratio = "" if base is None else "{:.2f} ({:.2f} to {:.2f})".format(
            *figures.paired_ratio(key, base))
        web = figures.cpu(key, "web")
        mark = " (serving)" if kind == figures.serving else ""
        lines.append(f"| {servers.LABELS[kind]}{mark} | {figures.rps(key):,.0f} | {ratio} "
                     f"| {figures.latency(key, 'p50_ms'):.1f} "
                     f"| {figures.latency(key, 'p99_ms'):.1f} "
                     f"| {'' if web is None else f'{web:,.0f}'} |")
    return lines


def target_table(figures: Figures) -> list[str]:
    lines = ["| target | measured | | by CPU per request |", "|---|---:|---|---:|"]
    for target in TARGETS:
        try:
            value, shown = target.measure(figures)
        except (KeyError, ValueError, ZeroDivisionError):
            continue  # not measured in this run
        by_cpu = target.by_cpu(figures)
        lines.append(f"| {target.label} | {shown} | {verdict(value, target.minimum)} "
                     f"| {'' if by_cpu is None else f'{by_cpu:.2f} x'} |")
    b, c = purchase_key(figures.serving), "c"
    if b in figures.rounds and "L3" in figures.rounds:
        median, low, high = figures.paired_ratio(b, "L3")
        by_cpu = cpu_ratio(figures, b, "L3")
        lines.append(f"| (b) / (L3), informative: against a 3-command script | {median:.2f} x "
                     f"(rounds: {low:.2f} to {high:.2f}) | "
                     f"| {'' if by_cpu is None else f'{by_cpu:.2f} x'} |")
    if "e" in figures.rounds and "bare_post" in figures.rounds:
        median, low, high = figures.paired_ratio("e", "bare_post")
        by_cpu = cpu_ratio(figures, "e", "bare_post")
        lines.append(f"| (e) / bare POST, informative: against the same request answered "
                     f"with nothing decided | {median:.2f} x (rounds: {low:.2f} to {high:.2f}) | "
                     f"| {'' if by_cpu is None else f'{by_cpu:.2f} x'} |")
    if b in figures.rounds and c in figures.rounds:
        lines.append(f"| (b) / (c), informative | {figures.rps(b) / figures.rps(c):.1f} x | "
                     f"| |")
    return lines


def anchor_table(figures: Figures, info: dict) -> list[str]:
    key = purchase_key(figures.serving)
    if key not in figures.rounds:
        return []
    lines = ["| system | purchases/s | hardware |", "|---|---:|---|",
             f"| this project, (b) on {servers.LABELS[figures.serving]} | "
             f"{figures.rps(key):,.0f} | {info['cores']} cores ({info['cpu']}), the load "
             f"generator, Redis and PostgreSQL on the same cores |"]
    lines += [f"| {name} | {rps:,} | {hardware} |" for name, rps, hardware in GO_ANCHORS]
    return lines


def cpu_table(figures: Figures) -> list[str]:
    """Microseconds of CPU per answered request by process group (medians over rounds)."""
    labelled = [(label, key) for label, key, _ in rows(figures.serving)]
    labelled += [(f"(b) purchase on {servers.LABELS[k]}", purchase_key(k))
                 for k in servers.KINDS if k != figures.serving]
    measured = [(label, key) for label, key in labelled if key in figures.rounds
                and all(r.get("cpu_us") for r in figures.rounds[key])]
    if not measured:
        return []
    head = " | ".join(cputime.GROUPS)
    lines = ["CPU per answered request, microseconds (from /proc, medians over rounds):", "",
             f"| measurement | {head} | all |", "|---|" + "---:|" * (len(cputime.GROUPS) + 1)]
    for label, key in measured:
        per_group = [figures.cpu(key, g) for g in cputime.GROUPS]
        cells = " | ".join(f"{value:,.0f}" for value in per_group)
        lines.append(f"| {label} | {cells} | {sum(per_group):,.0f} |")
    return lines


def capacity_lines(figures: Figures) -> list[str]:
    """The capacity model (loadtests.capacity) for a scale-1 launch from this run's CPU: the
    peak's request is the sale's live state (g), an admission costs Redis what (b)'s did,
    Celery's pipeline writes a ticket in at most 1 / (d) s of a core (one consumer, whose
    wall time per order is at least its CPU per order) and its risk feed scores an attempt in
    1 / (risk scoring's attempts per core second) s, and the load generator is wrk, not
    Locust. Without the risk row (`--risk-rounds 0`) the Celery line says it counts the
    pipeline alone."""
    b = purchase_key(figures.serving)
    web, redis, generator = figures.cpu("g", "web"), figures.cpu(b, "redis"), \
        figures.cpu("g", "load generator")
    orders_per_s = figures.pipeline.get("orders_per_s")
    if not (web and redis and generator and orders_per_s):
        return []
    risk = figures.risk.get("attempts_per_core_s")
    costs = capacity.Costs(web_per_request=web / 1e6, redis_per_attempt=redis / 1e6,
                           celery_per_ticket=1 / orders_per_s,
                           celery_per_attempt=1 / risk if risk else 0.0,
                           locust_per_request=generator / 1e6)
    lines = capacity.describe(costs, capacity.launch_load())
    celery = (f"risk scoring's {risk:,.0f} attempts per core second for the risk feed's "
              f"attempts" if risk else
              "NOT the risk feed's attempts: risk scoring was not timed in this run "
              "(--risk-rounds 0), so Celery's count is the pipeline's alone, an undercount")
    return ["Capacity of a scale-1 launch from this run's CPU (loadtests.capacity: the peak of "
            "curve.csv, every buyer pressing buy once within 3 s, every unit's ticket and "
            "every buyer's attempt through Celery within 60 s; (g) per request, (b)'s Redis "
            f"per attempt, 1 / (d) per ticket and {celery}, the load generator's (g) for "
            "Locust's, which costs more):", "",
            *(f"- {line}" for line in lines)]


def shard_section(figures: Figures) -> list[str]:
    """(s): a sale over 1, 2 and 3 shards beside its bare limit, and the Redis Cluster a
    scale-1 launch needs at its cost (loadtests.shard_bench); nothing when left out."""
    if not figures.shards:
        return []
    return [*shard_bench.describe(figures.shards), "", *shard_bench.capacity_lines(
        figures.shards)]


def report(figures: Figures, info: dict, *, shape: servers.Shape, concurrency: int,
           duration: float) -> str:
    n = len(next(iter(figures.rounds.values()), []))
    generator = next((r.get("generator") for results in figures.rounds.values()
                      for r in results), "gevent")
    generator = "wrk (1 thread)" if generator == "wrk" else "1 gevent process"
    setup = (f"{info['cores']} cores ({info['cpu']}), Python {info['python']}, PostgreSQL "
             f"{info['postgresql']}, Redis {info['redis']}; every server on the same shape: "
             f"{shape.workers} processes, {shape.threads} threads each where the server has "
             f"threads; load generator: {generator} on the same cores, {concurrency} connections, "
             f"{duration:.0f} s per measurement after 2 s warm-up; {n} rounds, each measuring "
             f"every paired row once (in reverse order every other round), requests/s and "
             f"latencies their medians over rounds, ratios the medians of each round's own")
    sections = [[f"Measured {info['date']} on {setup}."], main_table(figures),
                server_table(figures), target_table(figures), refusal_warnings(figures),
                anchor_table(figures, info),
                cpu_table(figures), capacity_lines(figures), shard_section(figures)]
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"
