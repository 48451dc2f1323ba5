"""Locust: the capacity probe of `double11 --scale auto`, a few seconds of the peak's request.

At the peak nearly every request is the crowd's refresh of the sale's live state (crowd.py);
this file sends only that, as fast as the stack answers, from the same Locust client the
replay uses (D11_PROBE_PATH on --host, D11_PROBE_USERS users, no pause). What it measures is
answers, not tries: only a 200 (the live state itself) counts, by the second it came back;
a refused connection, a timeout or an error status counts for nothing. When it stops it
writes, in D11_PROBE_OUT, the 200s by the second (probe-<pid>.json, [[second, n], ...]) and
what it tried, by status (tried-<pid>.json, {"0": n, "200": n, ...}; 0: no answer at all).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser

ANSWERED: Counter = Counter()   # second -> 200s of the live state
TRIED: Counter = Counter()      # status -> requests (0: refused, reset, timed out)


class Probe(FastHttpUser):
    wait_time = constant(0)

    @task
    def refresh(self) -> None:
        reply = self.client.get(os.environ["D11_PROBE_PATH"], name="probe: live state")
        TRIED[reply.status_code] += 1
        if reply.status_code == 200:
            ANSWERED[int(time.time())] += 1
        elif not reply.status_code:
            time.sleep(0.05)    # nobody there: no need to spin (gevent's sleep, patched)


@events.quitting.add_listener
def answered_write(**_) -> None:
    out = Path(os.environ["D11_PROBE_OUT"])
    (out / f"probe-{os.getpid()}.json").write_text(json.dumps(sorted(ANSWERED.items())))
    (out / f"tried-{os.getpid()}.json").write_text(
        json.dumps({str(status): n for status, n in sorted(TRIED.items())}))
