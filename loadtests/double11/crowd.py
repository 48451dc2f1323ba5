"""The crowd: the planned arrivals beyond what the personas' journeys send.

curve.csv plans the day's requests as multiples of the baseline B (every shopper waiting for
T0 at its persona's pace, `plan.baseline_rps`): 75 x B in the spike. The journeys alone (a few
purchase attempts each, a ticket poll a second, the bots' retries) send a few times B; the
rest of a rush is shoppers refreshing the sale (live.js polls its live state, and everyone
refreshes it within a second of the opening). So each Locust process tops its own requests up
to its share of the planned rate with anonymous GETs of the sale's live state.

The top-up is open loop, with at most MAX_IN_FLIGHT requests outstanding: a stack (or a load
generator) that cannot keep up shows in the report as arrivals below the plan, never as a
backlog sent later. What was planned but not sent, for want of a free slot, is counted too.
The top-up pays for the requests tried (journeys' and its own); only the answered ones are
arrivals (arrivals.py), so a web tier that refuses every connection is neither flooded nor
reported as reached.
"""

from __future__ import annotations

import time

import gevent
from gevent.pool import Pool

from loadtests.double11.arrivals import REFRESH, Log
from loadtests.double11.plan import Plan

TICK_S = 0.02
MAX_IN_FLIGHT = 64
LIVE_NAME = "/sales/[id]/live.json (crowd)"


def top_up(*, credit: float, rate: float, dt: float, sent_since: int) -> tuple[float, int]:
    """The credit carried to the next tick, and how many requests to send now: `rate` per
    second accrues, every request tried since the last tick (journeys' and the crowd's alike,
    answered or not) is paid from it; at most one second of arrivals is owed either way (a
    deficit the stack could not take is dropped, not sent in a burst later)."""
    credit = credit + rate * dt - sent_since
    credit = max(min(credit, max(rate, 1.0)), -max(rate, 1.0))
    due = max(int(credit), 0)
    return credit, due


class Crowd:
    def __init__(self, *, plan: Plan, host: str, request_event, workers: int, log: Log) -> None:
        from locust.contrib.fasthttp import FastHttpSession  # (importing Locust patches gevent)

        self.plan, self.workers, self.log = plan, max(workers, 1), log
        self.session = FastHttpSession(host, request_event, None, concurrency=MAX_IN_FLIGHT,
                                       connection_timeout=10.0, network_timeout=30.0)
        self.pool = Pool(MAX_IN_FLIGHT)
        self.path = f"/sales/{plan.sale_id}/live.json"
        self.greenlet: gevent.Greenlet | None = None

    def refresh(self, sent_at: float) -> None:
        reply = self.session.get(self.path, name=LIVE_NAME)
        self.log.answer(REFRESH, sent_at, reply.status_code)

    def run(self) -> None:
        credit, last = 0.0, time.time()
        seen = self.log.tries
        while last < self.plan.ends:
            gevent.sleep(TICK_S)
            now = time.time()
            total = self.log.tries
            credit, due = top_up(credit=credit, rate=self.plan.planned_rps(now) / self.workers,
                                 dt=now - last, sent_since=total - seen)
            seen, last = total, now     # (what is sent now is paid at the next tick)
            free = self.pool.free_count()
            if due > free:      # every slot in flight: these arrivals are dropped, not owed
                credit -= due - free
                self.log.unsent[int(now)] += due - free
            for _ in range(min(due, free)):
                self.pool.spawn(self.refresh, self.log.sent())

    def start(self) -> None:
        self.greenlet = gevent.spawn(self.run)

    def stop(self) -> None:
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
        self.pool.kill(block=False)
