"""Locust: the Double-11 replay (docs/double11.md), personas and the traffic shape.

`manage.py double11` prepares a run (accounts, sale, F-codes) and starts Locust with
D11_PLAN pointing at the run's plan.json, as:
    python -m locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8000 ...
The personas live in loadtests/double11/personas.py (their steps in shopper.py), the curve
in loadtests/double11/curve.csv; the crowd (crowd.py) tops their requests up to the curve.
Without D11_PLAN only a plain browsing user runs (useful to poke a running store).
"""

from __future__ import annotations

import time

from locust import LoadTestShape, between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import MasterRunner

from loadtests.double11 import shopper
from loadtests.double11.crowd import Crowd
from loadtests.double11.personas import (  # noqa: F401 - Locust collects them from here
    Browser,
    CampusFan,
    DepositReseller,
    Fan,
    FCodeHolder,
    HouseholdFan,
    OfficeFan,
    RingMember,
    ScalperBot,
    StealthScalper,
)
from loadtests.double11.shopper import PLAN

if PLAN is None:
    class Visitor(FastHttpUser):
        """No plan: look at the sales and the catalog."""

        wait_time = between(1, 5)

        @task
        def look(self) -> None:
            self.client.get("/api/v1/sales")
            self.client.get("/api/v1/products")

else:
    class Double11Shape(LoadTestShape):
        """The phases of docs/double11.md on the plan's clock: shoppers arrive over the browse
        phase, stay through the wait, the spike, the decay and the payment window, and most
        leave in the tail. Anchored at the sale's T0 (wall clock), not at Locust's start."""

        def tick(self):
            now = time.time()
            if now >= PLAN.ends:
                return None
            total = len(PLAN.accounts)
            users = max(round(PLAN.users_at(now) * total), 1)
            browse = next(p for p in PLAN.phases if p.name == "browse")
            rate = max(2 * total / max(browse.ends_s - browse.starts_s, 1.0), 5.0)
            return users, rate

    CROWD: list[Crowd] = []

    @events.test_start.add_listener
    def crowd_start(environment, **_) -> None:
        """Every process that runs users also runs its share of the crowd."""
        if isinstance(environment.runner, MasterRunner) or CROWD:
            return
        CROWD.append(Crowd(plan=PLAN, host=environment.host,
                           request_event=environment.events.request,
                           workers=shopper.LOCUST_WORKERS, log=shopper.LOG))
        CROWD[0].start()

    @events.test_stop.add_listener
    def crowd_stop(**_) -> None:
        for crowd in CROWD:
            crowd.stop()
