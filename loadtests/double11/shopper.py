"""What every Double-11 shopper does (the Locust plumbing and the journey's steps), and the
labels the shoppers leave behind; the personas themselves are in `personas.py`.

Every user plays one account of the run's plan (`D11_PLAN`, written by `manage.py double11`)
and paces itself against the sale's T0, so the phases line up with the shape whatever the
spawn order. Labels (account -> persona) and the API error codes each process saw are kept
here, on the client, and written to `D11_OUT/labels-*.json` when the test stops; no request
carries them.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import uuid
from collections import Counter
from pathlib import Path

import gevent
from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser

from loadtests.double11 import arrivals
from loadtests.double11.plan import WAIT_POLL_S, Account, Plan

PLAN = Plan.load(Path(os.environ["D11_PLAN"])) if os.environ.get("D11_PLAN") else None
LOCUST_WORKERS = int(os.environ.get("D11_LOCUST_WORKERS", "1"))
PAY_SHARE = {"fan": 0.9, "campus": 0.9, "office": 0.9, "household": 0.9, "fcode": 0.97,
             "stealth": 1.0, "scalper": 1.0, "ring": 1.0, "deposit": 1.0}
SMS_CODE = re.compile(r"\b([0-9]{6})\b")
LABELS: dict[str, dict] = {}
ERRORS: Counter = Counter()
# 5xx answers by the second they came (a chaos run lines them up with its faults).
ERRORS_AT: Counter = Counter()
# What this process tried and what arrived (was answered), by kind and by the second each
# request was sent (the journeys' and the crowd's), so that the report compares what arrived
# with what the plan asked for (arrivals.py).
LOG = arrivals.Log()
_claimed: Counter = Counter()

SALE = "/api/v1/sales/[id]"
PURCHASE = "/api/v1/sales/[id]/purchase"


def sms_read(phone: str) -> str | None:
    """The last text the store sent to `phone` (shop.sms.RedisBackend's list, read with
    redis-py: the Locust processes run without Django)."""
    import redis

    url = os.environ.get("D11_REDIS_URL")
    if not url:
        return None
    raw = redis.Redis.from_url(url, decode_responses=True).lindex(f"sms:outbox:{phone}", 0)
    return json.loads(raw)["message"] if raw else None


def accounts_of(persona: str) -> list[Account]:
    return [a for a in PLAN.accounts if a.persona == persona] if PLAN else []


def labels_write(environment, **_) -> None:
    if PLAN is None or not (LABELS or LOG):
        return
    index = getattr(environment.runner, "worker_index", 0) if environment.runner else 0
    path = Path(PLAN.out_dir) / f"labels-{index}-{os.getpid()}.json"
    errors = [[name, status, code, n] for (name, status, code), n in sorted(ERRORS.items())]
    errors_at = [[second, status, code, n]
                 for (second, status, code), n in sorted(ERRORS_AT.items())]
    path.write_text(json.dumps({"labels": LABELS, "errors": errors, "errors_at": errors_at,
                                **LOG.dump()}))


events.test_stop.add_listener(labels_write)
events.quitting.add_listener(labels_write)


class Shopper(FastHttpUser):
    """What every persona does: log in, browse, reserve, buy, poll, pay, look up orders."""

    abstract = True
    persona = ""
    wait_time = constant(0)           # journeys pace themselves against T0
    connection_timeout = 10.0
    network_timeout = 30.0
    human = True

    def on_start(self) -> None:
        self.rng = random.Random()
        self.account = self._claim()
        self.token = None
        self.done = False
        self.address_id = None
        if self.account is None:
            return
        a = self.account
        # the deposit pre-sale's buyers buy there; everyone else in the rush
        self.sale_id = PLAN.deposit_sale_id if a.sale == "deposit" and PLAN.deposit_sale_id \
            else PLAN.sale_id
        self.headers = {"X-Forwarded-For": a.ip, "X-Device-Id": a.device,
                        "User-Agent": a.user_agent}
        if self.human:
            self.headers.update({"Accept": "application/json, text/plain, */*",
                                 "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.6",
                                 "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"})
        else:
            self.headers["Accept"] = "*/*"
        self.label = LABELS.setdefault(a.username, {
            "persona": a.persona, "operator": a.operator, "attempts": 0, "admitted": 0,
            "confirmed": 0, "rejected": 0, "paid": 0, "units": 0, "refusals": {},
            "tickets": []})

    def _claim(self) -> Account | None:
        pool = accounts_of(self.persona)
        runner = self.environment.runner
        index = getattr(runner, "worker_index", 0) if runner else 0
        n = index + LOCUST_WORKERS * _claimed[self.persona]
        _claimed[self.persona] += 1
        return pool[n] if n < len(pool) else None

    # --- plumbing -------------------------------------------------------------------------
    def call(self, method: str, path: str, *, name: str | None = None, body=None,
             idempotency_key: str | None = None, auth: bool = True) -> tuple[int, dict]:
        headers = dict(self.headers)
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        sent_at = LOG.sent()
        with self.client.request(method, path, name=name or path, json=body, headers=headers,
                                 catch_response=True) as reply:
            status = reply.status_code
            LOG.answer(arrivals.PURCHASE if name == PURCHASE else arrivals.OTHER, sent_at,
                       status)
            try:
                data = reply.json() if reply.text else {}
            except ValueError:
                data = {}
            if not isinstance(data, dict):
                data = {"items": data}
            if status >= 400 or status == 0:
                code = (data.get("error") or {}).get("code") or f"http_{status}"
                ERRORS[(name or path, status, code)] += 1
                if status >= 500 or status == 0:
                    ERRORS_AT[(int(time.time()), status, code)] += 1
            if status == 0 or status >= 500 or status in (400, 401, 404):
                reply.failure(f"{status} {data.get('error', {}).get('code', '')}")
            else:
                reply.success()     # refusals (403, 409, 429) are answers, not failures
        return status, data

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            gevent.sleep(seconds)

    def sleep_until(self, moment: float) -> None:
        self.sleep(moment - time.time())

    def think(self, low: float = 1.0, high: float = 5.0, until: float | None = None) -> None:
        pause = self.rng.uniform(low, high)
        if until is not None:
            pause = min(pause, until - time.time())
        self.sleep(pause)

    def login(self) -> bool:
        """Most shoppers still hold a session from before the day; some log in now."""
        self.token = self.account.token or None
        if self.rng.random() < PLAN.live_login_share or not self.token:
            status, data = self.call("POST", "/api/v1/auth/token", auth=False,
                                     body={"username": self.account.username,
                                           "password": PLAN.password})
            if status == 200:
                self.token = data["access"]
        return self.token is not None

    def own_address(self) -> None:
        status, data = self.call("GET", "/api/v1/me/addresses")
        items = data.get("items") or []
        if status == 200 and items:
            self.address_id = items[0]["id"]

    def address_add(self, body: dict) -> None:
        """Type a delivery address (as this account writes it) and ship to it."""
        status, data = self.call("POST", "/api/v1/me/addresses", body=body)
        if status == 201:
            self.address_id = data.get("id")

    def phone_confirm(self) -> bool:
        """Ask for the code texted to the registered phone, read it from the SMS outbox the
        replay's stack writes to (shop.sms.RedisBackend: the SIM in this model) and type it."""
        status, _ = self.call("POST", "/api/v1/me/phone/code")
        if status != 202:
            return False
        sms = sms_read(self.account.phone)
        found = SMS_CODE.search(sms or "")
        if not found:
            return False
        status, _ = self.call("POST", "/api/v1/me/phone/confirm", body={"code": found.group(1)})
        self.label["phone_confirmed"] = status == 200
        return status == 200

    def drop_address(self) -> None:
        """Scalpers ship to the operator's drop address, typed slightly differently."""
        address = dict(self.account.drop_address)
        variant = self.rng.choice(["", " ", "  "]) + self.rng.choice(["", "."])
        address["line1"] = address["line1"].replace("Room", self.rng.choice(["Room", "Rm"]))
        address["line1"] += variant
        status, data = self.call("POST", "/api/v1/me/addresses", body=address)
        if status == 201:
            self.address_id = data.get("id")

    def reserve(self) -> None:
        if self.sale_id != PLAN.sale_id:
            return          # the deposit pre-sale takes no reservations
        self.call("POST", f"/api/v1/sales/{self.sale_id}/reservations",
                  name="/api/v1/sales/[id]/reservations")

    def sale(self) -> dict:
        status, data = self.call("GET", f"/api/v1/sales/{self.sale_id}", name=SALE, auth=False)
        return data if status == 200 else {}

    def browse(self) -> None:
        choice = self.rng.random()
        if choice < 0.4:
            self.sale()
        elif choice < 0.7:
            self.call("GET", "/api/v1/sales", auth=False)
        elif choice < 0.9:
            self.call("GET", "/api/v1/products", auth=False)
        else:
            self.call("GET", f"/api/v1/products/{self.rng.randint(1, 9)}",
                      name="/api/v1/products/[id]", auth=False)

    def browse_until(self, moment: float, low: float = 1.0, high: float = 5.0) -> None:
        while time.time() < moment:
            self.browse()
            self.think(low, high, until=moment)

    def buy(self, *, quantity: int = 1, fcode: str = "", pause: tuple[float, float],
            until: float, sold_out_tries: int) -> str:
        """Press buy (retrying like this persona does) and follow the ticket; returns the
        outcome: paid-able 'confirmed:<order>', 'rejected', 'sold_out', 'limit', 'blocked'."""
        key = str(uuid.uuid4())
        sold_out = 0
        while time.time() < until:
            body = {"quantity": quantity}
            if self.address_id:
                body["address_id"] = self.address_id
            if fcode:
                body["fcode"] = fcode
            self.label["attempts"] += 1
            status, data = self.call("POST", f"/api/v1/sales/{self.sale_id}/purchase",
                                     name=PURCHASE, body=body, idempotency_key=key)
            if status == 202:
                self.label["admitted"] += 1
                self.label["tickets"].append(data["ticket"])   # acknowledged: must end once
                return self.follow(data["ticket"], quantity)
            code = (data.get("error") or {}).get("code", f"http_{status}")
            refusals = self.label["refusals"]
            refusals[code] = refusals.get(code, 0) + 1
            if code in ("limit_reached", "blocked", "fcode_invalid", "reservation_required"):
                return code
            if code == "sold_out":
                sold_out += 1
                if sold_out > sold_out_tries:
                    return "sold_out"
                if quantity > 1:
                    quantity = 1        # not enough for the limit: take one
            if code == "rate_limited":
                self.sleep(min(float(self.rng.uniform(0.5, 1.5)), until - time.time()))
            self.sleep(min(self.rng.uniform(*pause), until - time.time()))
        return "gave_up"

    def follow(self, ticket: str, quantity: int) -> str:
        deadline = time.time() + 90
        every = 1.0 if self.human else 0.3
        while time.time() < deadline:
            status, data = self.call("GET", f"/api/v1/tickets/{ticket}",
                                     name="/api/v1/tickets/[ticket]")
            if status == 200 and data.get("status") == "confirmed":
                self.label["confirmed"] += 1
                return f"confirmed:{data['order']}:{quantity}"
            if status == 200 and data.get("status") == "rejected":
                self.label["rejected"] += 1
                return "rejected"
            self.sleep(every)
        return "unresolved"

    def pay(self, outcome: str) -> None:
        _, order_id, quantity = outcome.split(":")
        status, _ = self.call("POST", f"/api/v1/orders/{order_id}/pay",
                              name="/api/v1/orders/[id]/pay", idempotency_key=str(uuid.uuid4()),
                              body={"method": "card", "instrument": self.account.card})
        if status == 200:
            self.label["paid"] += 1
            self.label["units"] += int(quantity)

    def settle(self, outcome: str) -> bool:
        """Pay for a confirmed order (or not: some never do); True when the user is done."""
        if not outcome.startswith("confirmed"):
            return outcome in ("limit_reached", "blocked")
        if self.human:
            self.think(1, 5)
        if self.rng.random() < PAY_SHARE.get(self.persona, 1.0):
            self.pay(outcome)
        return True

    def tail(self) -> None:
        """After the sale: accessories, order lookups, browsing, at a relaxed pace."""
        if self.token and self.rng.random() < 0.3:
            self.call("GET", "/api/v1/orders")
        else:
            self.browse()
        self.think(3, 10)

    # --- the task ---------------------------------------------------------------------------
    @task
    def shop(self) -> None:
        if self.account is None:
            self.tail()
            return
        if not self.done:
            self.done = True
            self.journey()
        self.tail()

    def journey(self) -> None:  # pragma: no cover - overridden by each persona
        raise NotImplementedError

    def wait_for_t0(self, every: tuple[float, float] = WAIT_POLL_S) -> None:
        """Watch the countdown on the sale page."""
        while time.time() < PLAN.t0 - 0.5:
            self.sale()
            self.think(*every, until=PLAN.t0)

    def second_rush(self, *, quantity: int, pause: tuple[float, float]) -> str:
        """Watch the sale during the payment window and buy when expired units come back."""
        until = PLAN.end_of("payment")
        while time.time() < until:
            if (self.sale().get("stock_left") or 0) > 0:
                outcome = self.buy(quantity=quantity, pause=pause, until=until, sold_out_tries=1)
                if outcome.startswith("confirmed") or outcome in ("limit_reached", "blocked"):
                    return outcome
            self.sleep(min(self.rng.uniform(*pause), until - time.time()))
        return "gave_up"
