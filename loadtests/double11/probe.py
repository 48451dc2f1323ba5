"""Locust: the capacity probe of `double11 --scale auto`, a few seconds of the peak's request.

At the peak nearly every request is the crowd's refresh of the sale's live state (crowd.py);
this file sends only that, as fast as the stack answers, from the same Locust client the
replay uses (D11_PROBE_PATH on --host, D11_PROBE_USERS users, no pause), and writes the
requests it sent by the second (D11_PROBE_OUT/probe-<pid>.json) when it stops.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser

SENT: Counter = Counter()


class Probe(FastHttpUser):
    wait_time = constant(0)

    @task
    def refresh(self) -> None:
        SENT[int(time.time())] += 1
        self.client.get(os.environ["D11_PROBE_PATH"], name="probe: live state")


@events.quitting.add_listener
def sent_write(**_) -> None:
    if SENT:
        path = Path(os.environ["D11_PROBE_OUT"]) / f"probe-{os.getpid()}.json"
        path.write_text(json.dumps(sorted(SENT.items())))
