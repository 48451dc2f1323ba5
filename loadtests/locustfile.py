"""Locust: a fan who logs in, watches the sales, buys in the live one, waits for the ticket
and pays. The Double-11 personas and traffic shape build on this (see DOUBLE11.md).

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000
Shoppers are the seeded accounts fan000001... (`manage.py seed`), password flash-sale-demo.
"""

from __future__ import annotations

import itertools
import os
import uuid

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

PASSWORD = os.environ.get("SHOPPER_PASSWORD", "flash-sale-demo")
_accounts = itertools.count(int(os.environ.get("FIRST_SHOPPER", "1")))


class Fan(FastHttpUser):
    wait_time = between(1, 5)

    def on_start(self) -> None:
        self.username = f"fan{next(_accounts):06d}"
        reply = self.client.post("/api/v1/auth/token",
                                 json={"username": self.username, "password": PASSWORD})
        self.headers = {"Authorization": f"Bearer {reply.json()['access']}",
                        "X-Device-Id": f"device-{self.username}"}

    @task(5)
    def watch_sales(self) -> None:
        self.client.get("/api/v1/sales")

    @task(1)
    def buy_and_pay(self) -> None:
        live = [s for s in self.client.get("/api/v1/sales").json() if s["status"] == "live"]
        if not live:
            return
        with self.client.post(f"/api/v1/sales/{live[0]['id']}/purchase", json={},
                              headers={**self.headers, "Idempotency-Key": str(uuid.uuid4())},
                              name="/api/v1/sales/[id]/purchase", catch_response=True) as reply:
            if reply.status_code == 409:
                reply.success()  # sold out or limit reached: an answer, not a failure
                return
            if reply.status_code != 202:
                return
            ticket = reply.json()["ticket"]
        for _ in range(30):
            status = self.client.get(f"/api/v1/tickets/{ticket}", headers=self.headers,
                                     name="/api/v1/tickets/[ticket]").json()
            if status["status"] != "queued":
                break
            self._sleep(1)
        if status.get("status") == "confirmed":
            self.client.post(f"/api/v1/orders/{status['order']}/pay", json={},
                             headers={**self.headers, "Idempotency-Key": str(uuid.uuid4())},
                             name="/api/v1/orders/[id]/pay")

    def _sleep(self, seconds: float) -> None:
        import gevent

        gevent.sleep(seconds)
