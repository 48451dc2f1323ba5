"""The capacity model: how many cores of each tier a launch needs, from measured CPU per unit.

One function (`need`) turns CPU seconds per unit of work, measured from /proc (the replay's
report: each tier's CPU over the rush divided by the requests, attempts or tickets it handled;
`make bench`: its CPU table), and a load (requests, purchase attempts and tickets per second)
into whole processes of each tier:

- web cores: peak requests/s x web CPU per request; one Python process is one core (the GIL);
- Redis shards: peak attempts/s x Redis CPU per attempt, against one core per shard (Redis
  runs commands on one thread). A sale's stock is split over up to SHARDS_MAX shards of a
  Redis Cluster (`FlashSale.shards`, issue 17); `shard_plan` turns the shard bench's measured
  Redis CPU per admission (loadtests.shard_bench) into masters, replicas and hosts, and says
  whether one sale's shards can take the peak at all;
- Celery workers: its two kinds of work, one prefork process per core: the pipeline writes
  the rush's tickets (tickets/s x CPU per ticket) and the risk feed
  (`sales.pipeline.risk_feed.attempts_drain`) records and scores every attempt the gate
  decided (attempts/s x CPU per attempt), both within SETTLE_S of T0. A shopper tries
  several times and 14 shoppers share a unit, so the attempts are a hundred times the
  tickets: sized by tickets alone, Celery would not see the attempts at all. `make bench`
  measures the two apart (the pipeline's orders/s, risk_bench's attempts per core second);
  a replay cannot (one worker does both) and charges all of Celery's CPU over the rush to
  its attempts (a ticket cost of 0): attempts scale with the shoppers as tickets do with
  the stock, so that is linear too;
- Locust workers: peak requests/s x load-generator CPU per request; a Locust worker is one
  process on one core (gevent).

Each tier is planned at HEADROOM of its cores at the peak, and never below one process.
`need` answers whole processes; `describe` writes them, and the costs, to two significant
figures (and the rates to three): measured on shared cores they swing by about 30 % from
one run to the next, and a fourth digit would claim what no run can.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from sales.gate.keys import SHARDS_MAX

HEADROOM = 0.7          # every core planned 70 % busy at the peak: bursts inside a second,
                        # and the collector, the kernel and the network stack's share
SETTLE_S = 60.0         # the report's target: every rush ticket written within 60 s of T0


@dataclass(frozen=True)
class Costs:
    """CPU seconds per unit of work, as measured."""

    web_per_request: float
    redis_per_attempt: float
    celery_per_ticket: float        # the pipeline writing one ticket (order or rejection)
    celery_per_attempt: float       # the risk feed recording and scoring one attempt
    locust_per_request: float


@dataclass(frozen=True)
class Load:
    """What the tiers must absorb, per second at the peak."""

    peak_rps: float             # requests arriving (every kind)
    peak_attempts_rps: float    # purchase attempts that reach the gate
    tickets_per_s: float        # tickets the pipeline writes to settle the rush in SETTLE_S
    rush_attempts_per_s: float  # the rush's attempts the risk feed drains to be done in SETTLE_S

    def times(self, factor: float) -> Load:
        return Load(*(value * factor for value in asdict(self).values()))


TIERS = ("web_cores", "redis_shards", "celery_workers", "locust_workers")
SHOWN_FIGURES = 2       # significant figures of the counts and costs `describe` writes


def significant(value: float, figures: int = SHOWN_FIGURES) -> str:
    """`value` rounded to `figures` significant figures, with thousands separators:
    12,882 -> '13,000', 286.4 -> '290', 8 -> '8', 0.25 -> '0.25'."""
    if not value:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    decimals = max(figures - 1 - exponent, 0)
    text = f"{round(value, figures - 1 - exponent):,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def cores(rate: float, cost: float, headroom: float = HEADROOM) -> int:
    """Whole cores for `rate` units a second at `cost` CPU seconds each, `headroom` busy."""
    return max(1, math.ceil(rate * cost / headroom - 1e-9))


def celery_busy(costs: Costs, load: Load) -> float:
    """Celery's CPU seconds a second: the pipeline's tickets and the risk feed's attempts."""
    return (load.tickets_per_s * costs.celery_per_ticket
            + load.rush_attempts_per_s * costs.celery_per_attempt)


def need(costs: Costs, load: Load, *, headroom: float = HEADROOM) -> dict[str, int]:
    """The processes of each tier (one core each) the load needs at these costs."""
    return {"web_cores": cores(load.peak_rps, costs.web_per_request, headroom),
            "redis_shards": cores(load.peak_attempts_rps, costs.redis_per_attempt, headroom),
            "celery_workers": cores(1.0, celery_busy(costs, load), headroom),
            "locust_workers": cores(load.peak_rps, costs.locust_per_request, headroom)}


def describe(costs: Costs, load: Load, *, headroom: float = HEADROOM) -> list[str]:
    """The model's lines: each tier's count, with the inputs it came from."""
    counts = need(costs, load, headroom=headroom)

    def term(rate: float, unit: str, cost: float, per: str) -> str:
        return f"{significant(rate, 3)} {unit} x {significant(cost * 1e6)} us {per}"

    celery = [term(load.tickets_per_s, "tickets/s", costs.celery_per_ticket, "per ticket"),
              term(load.rush_attempts_per_s, "attempts/s", costs.celery_per_attempt,
                   "per attempt")]
    if not costs.celery_per_ticket and costs.celery_per_attempt:
        celery = celery[1:]         # a replay's: every Celery second charged to the attempts
    rows = [("web cores", counts["web_cores"],
             term(load.peak_rps, "requests/s", costs.web_per_request, "per request")),
            ("Redis shards", counts["redis_shards"],
             term(load.peak_attempts_rps, "attempts/s", costs.redis_per_attempt, "per attempt")),
            ("Celery workers", counts["celery_workers"], " + ".join(celery)),
            ("Locust workers", counts["locust_workers"],
             term(load.peak_rps, "requests/s", costs.locust_per_request, "per request"))]
    return [f"{name}: {significant(count)} = {terms} / {headroom:.0%} of a core"
            for name, count, terms in rows]


def shown(counts: dict[str, int]) -> dict[str, int]:
    """`need`'s counts as `describe` writes them (two significant figures)."""
    return {tier: int(significant(n).replace(",", "")) for tier, n in counts.items()}


PRESS_S = 3.0           # docs/double11.md: "every waiting shopper presses buy within a few
                        # seconds": the buyers' first presses spread over about 3 s


def launch_load() -> Load:
    """A scale-1 launch from the model alone (no replay): curve.csv's peak arrivals; every
    shopper but the browsers pressing buy once within PRESS_S, and those attempts drained into
    the risk engine within SETTLE_S (a lower bound: a replay's shoppers try several times,
    its bots every 0.2 s); and every unit's ticket written within SETTLE_S (an upper bound
    on the tickets: one holds one or two units)."""
    from loadtests.double11 import plan

    buyers = plan.RESERVATIONS_AT_SCALE_1 * (1 - plan.SHARE_BROWSER)
    return Load(peak_rps=plan.planned_peak_rps(scale=1.0), peak_attempts_rps=buyers / PRESS_S,
                tickets_per_s=plan.UNITS_AT_SCALE_1 / SETTLE_S,
                rush_attempts_per_s=buyers / SETTLE_S)


HOST_CORES = 8          # a Redis host planned with 8 cores, one redis-server on each
REPLICAS = 1            # each master with a replica on another host (its failover)


@dataclass(frozen=True)
class ShardPlan:
    """The Redis Cluster a peak of admissions needs at a measured cost per admission."""

    attempts_rps: float         # admissions a second at the peak
    redis_per_admission: float  # CPU seconds of redis-server per admission (shard bench)
    headroom: float
    host_cores: int
    replicas: int

    @property
    def per_shard_rps(self) -> float:
        """Admissions a second one shard (one master, one core) takes at the headroom."""
        return self.headroom / self.redis_per_admission

    @property
    def masters(self) -> int:
        return cores(self.attempts_rps, self.redis_per_admission, self.headroom)

    @property
    def instances(self) -> int:
        """redis-server processes: the masters and their replicas."""
        return self.masters * (1 + self.replicas)

    @property
    def hosts(self) -> int:
        """Hosts of `host_cores` cores, one redis-server a core; at least one more than the
        replicas, so that a master and its replica never share a host."""
        return max(math.ceil(self.instances / self.host_cores), 1 + self.replicas)

    @property
    def sale_ceiling_rps(self) -> float:
        """What one sale can take: its SHARDS_MAX shards, each on its own master."""
        return SHARDS_MAX * self.per_shard_rps

    @property
    def one_sale_fits(self) -> bool:
        return self.masters <= SHARDS_MAX


def shard_plan(*, attempts_rps: float, redis_per_admission: float,
               headroom: float = HEADROOM, host_cores: int = HOST_CORES,
               replicas: int = REPLICAS) -> ShardPlan:
    return ShardPlan(attempts_rps=attempts_rps, redis_per_admission=redis_per_admission,
                     headroom=headroom, host_cores=host_cores, replicas=replicas)


def shard_lines(plan: ShardPlan) -> list[str]:
    """The plan in words: masters, instances and hosts, and whether one sale can take it."""
    lines = [f"Redis Cluster masters: {significant(plan.masters)} = "
             f"{significant(plan.attempts_rps, 3)} admissions/s x "
             f"{significant(plan.redis_per_admission * 1e6)} us of Redis per admission / "
             f"{plan.headroom:.0%} of a core (one shard takes "
             f"{significant(plan.per_shard_rps)} admissions/s)",
             f"with {plan.replicas} replica(s) each: {significant(plan.instances)} redis-server "
             f"processes, {significant(plan.hosts)} hosts of {plan.host_cores} cores"]
    if plan.one_sale_fits:
        lines.append(f"one sale split over {plan.masters} shards takes it (a sale may have up "
                     f"to {SHARDS_MAX})")
    else:
        lines.append(f"one sale cannot take it: its {SHARDS_MAX} shards at most take "
                     f"{significant(plan.sale_ceiling_rps)} admissions/s, "
                     f"{plan.sale_ceiling_rps / plan.attempts_rps:.0%} of the peak; the rest "
                     f"must be answered before Redis (the sold-out memo answers every attempt "
                     f"after the sell-out from memory) or the sale's attempts spread over time")
    return lines
