"""The Double-11 personas (docs/double11.md) as Locust users: fans, the false-positive traps
(campus fans behind one NAT, office-tower fans, a household on one device), F-code holders,
browsers, scalper bots, stealth scalpers, a professional ring and a deposit reseller (their
identities: `rings.py`). Each one is a journey built from the steps of `shopper.Shopper`; the
weights follow the run's plan.
"""

from __future__ import annotations

import time

from loadtests.double11.plan import BOT_POLL_S, BROWSE_THINK_S
from loadtests.double11.shopper import PLAN, Shopper, accounts_of

PERSISTENT_LOSERS = 0.3   # fans who keep watching for returned units (the second rush)


class Fan(Shopper):
    """Reserved, real device, human think time (1-5 s), buys one, pays (most of them)."""

    persona = "fan"

    def journey(self) -> None:
        if not self.login():
            return
        self.own_address()
        reserve_at = self.rng.uniform(time.time(), max(time.time(), PLAN.at("wait")))
        self.browse_until(reserve_at)
        self.reserve()
        self.browse_until(PLAN.at("wait"))
        self.wait_for_t0()
        self.sleep_until(PLAN.t0 + self.rng.lognormvariate(0.0, 0.6))   # reaction, ~1 s
        outcome = self.buy(pause=(1, 3), until=PLAN.end_of("decay"), sold_out_tries=2)
        if self.settle(outcome):
            return
        if self.rng.random() < PERSISTENT_LOSERS:
            self.settle(self.second_rush(quantity=1, pause=(3, 8)))


class CampusFan(Fan):
    """A genuine fan behind the campus NAT: one IP shared by many honest accounts."""

    persona = "campus"


class OfficeFan(Fan):
    """A genuine, established fan who ships to the office tower where many fans work (its
    earlier orders went there too) and leaves the office through its egress IPs."""

    persona = "office"


class HouseholdFan(Fan):
    """One of a household of four genuine, established accounts on one device, one IP and
    one address."""

    persona = "household"


class FCodeHolder(Shopper):
    """A Lv2/Lv3 fan with an F-code: no race, buys calmly within the window, pays."""

    persona = "fcode"

    def journey(self) -> None:
        if not self.login():
            return
        self.own_address()
        self.reserve()
        self.browse_until(PLAN.t0, *BROWSE_THINK_S)
        window = PLAN.end_of("payment") - PLAN.t0
        self.sleep_until(PLAN.t0 + self.rng.uniform(1, max(2.0, 0.4 * window)))
        outcome = self.buy(fcode=self.account.fcode, pause=(2, 5),
                           until=PLAN.end_of("payment"), sold_out_tries=1)
        self.settle(outcome)


class Browser(Shopper):
    """Only looks; half of them log in to see their orders."""

    persona = "browser"

    def journey(self) -> None:
        if self.rng.random() < 0.5:
            self.login()
        self.browse_until(PLAN.end_of("decay"), *BROWSE_THINK_S)


class ScalperBot(Shopper):
    """One account of an operator's fleet: shared device, proxy and card, the drop address;
    reserves, fires at T0 exactly, retries without think time, buys the limit, pays."""

    persona = "scalper"
    human = False

    def journey(self) -> None:
        if not self.login():
            return
        self.drop_address()
        self.reserve()
        while time.time() < PLAN.t0 - 1:
            self.sale()
            self.sleep(min(BOT_POLL_S, PLAN.t0 - 1 - time.time()))
        self.sleep_until(PLAN.t0 - 0.02)
        limit = PLAN.per_user_limit
        pause = (PLAN.bot_pause_s, PLAN.bot_pause_s * 1.2)
        outcome = self.buy(quantity=limit, pause=pause, until=PLAN.end_of("decay"),
                           sold_out_tries=10_000)
        if self.settle(outcome):
            return
        self.settle(self.second_rush(quantity=1, pause=(0.5, 1.0)))


class StealthScalper(Shopper):
    """A fleet account made to look human: own device and residential IP, human timing;
    linked to its operator only by the drop address or the card."""

    persona = "stealth"

    def journey(self) -> None:
        if not self.login():
            return
        if self.account.drop_address:
            self.drop_address()
        else:
            self.own_address()
        self.browse_until(self.rng.uniform(time.time(), max(time.time(), PLAN.at("wait"))))
        self.reserve()
        self.wait_for_t0()
        self.sleep_until(PLAN.t0 + self.rng.uniform(0.3, 1.5))
        outcome = self.buy(quantity=PLAN.per_user_limit, pause=(1, 3),
                           until=PLAN.end_of("decay"), sold_out_tries=5)
        if self.settle(outcome):
            return
        self.settle(self.second_rush(quantity=1, pause=(2, 5)))


class RingMember(Shopper):
    """One account of a professional ring: aged, dormant, its own device, residential IP,
    card and phone (confirmed by the code texted to it, on the day), human jitter; its units
    go to one of the ring's few buildings, written its own way."""

    persona = "ring"

    def journey(self) -> None:
        if not self.login():
            return
        self.browse_until(self.rng.uniform(time.time(), max(time.time(), PLAN.at("wait"))))
        if self.account.confirm_phone:
            self.phone_confirm()
        self.address_add(self.account.drop_address)
        self.reserve()
        self.wait_for_t0()
        self.sleep_until(PLAN.t0 + 0.3 + self.rng.lognormvariate(0.0, 0.5))   # ~1.3 s
        outcome = self.buy(quantity=PLAN.per_user_limit, pause=(0.8, 2.5),
                           until=PLAN.end_of("decay"), sold_out_tries=6)
        if self.settle(outcome):
            return
        self.settle(self.second_rush(quantity=1, pause=(2, 5)))


class DepositReseller(Shopper):
    """A reseller's account in the deposit pre-sale: human timing, its own device and IP; it
    holds units with deposits paid from the operator's card, shipped to its drop building."""

    persona = "deposit"

    def journey(self) -> None:
        if not self.login():
            return
        self.browse_until(self.rng.uniform(time.time(), max(time.time(), PLAN.at("wait"))))
        self.address_add(self.account.drop_address)
        self.wait_for_t0()
        self.sleep_until(PLAN.t0 + self.rng.uniform(0.4, 2.0))
        outcome = self.buy(quantity=PLAN.per_user_limit, pause=(1, 3),
                           until=PLAN.end_of("decay"), sold_out_tries=5)
        if self.settle(outcome):
            return
        self.settle(self.second_rush(quantity=1, pause=(2, 5)))


PERSONA_CLASSES = (Fan, CampusFan, OfficeFan, HouseholdFan, FCodeHolder, Browser, ScalperBot,
                   StealthScalper, RingMember, DepositReseller)


def weigh() -> None:
    """One Locust user per planned account: weights are the persona counts; a persona with
    no accounts in this plan is left out."""
    for cls in PERSONA_CLASSES:
        count = len(accounts_of(cls.persona))
        cls.weight = max(count, 1)
        cls.abstract = count == 0


weigh()
