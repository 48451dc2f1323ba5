"""The shoppers' own log of what they sent and what arrived, kept in each Locust process.

An arrival is a request the web tier answered: any status it sent back (200, 409, 429, 503
alike), counted in the second the request was sent. A request refused at the connection, or
left unanswered within the client's timeout, was tried and never arrived: against a dead web
tier the arrivals are nil, whatever was tried. The crowd (crowd.py) paces itself on the
requests tried, so that a web tier that refuses connections is not flooded either.

Arrivals are kept by kind, because the peak's are nearly all one kind:
- `refresh`: the crowd's anonymous GETs of the sale's live state (the cheapest answer there is,
  the same for every shopper);
- `purchase`: the journeys' POSTs of the purchase (their answers come from the gate, or from
  what stands before it: the token, the rate limit);
- `other`: every other request of the journeys (the sale page, ticket polls, logins, ...).

Written into each process's labels-*.json as
    "tried":    [[unix second, requests sent], ...]
    "arrivals": [[unix second, kind, requests answered], ...]
    "unsent":   [[unix second, crowd requests dropped for want of a free slot], ...]
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

REFRESH, PURCHASE, OTHER = "refresh", "purchase", "other"
KINDS = (REFRESH, PURCHASE, OTHER)


class Log:
    """One process's log (module-level in shopper.py, shared by its journeys and its crowd)."""

    def __init__(self) -> None:
        self.tries = 0                  # every request sent so far (the crowd's pacing)
        self.tried: Counter = Counter()     # second -> requests sent
        self.answered: Counter = Counter()  # (second, kind) -> requests answered
        self.unsent: Counter = Counter()    # second -> crowd requests dropped

    def sent(self) -> float:
        """Count one request sent now; the moment, for `answer`."""
        now = time.time()
        self.tries += 1
        self.tried[int(now)] += 1
        return now

    def answer(self, kind: str, sent_at: float, status: int) -> None:
        """The reply to a request sent at `sent_at`: an arrival if the server answered
        (Locust's status 0 is no answer: refused, reset, timed out)."""
        if status:
            self.answered[(int(sent_at), kind)] += 1

    def dump(self) -> dict:
        return {"tried": sorted(self.tried.items()),
                "arrivals": [[second, kind, n]
                             for (second, kind), n in sorted(self.answered.items())],
                "unsent": sorted(self.unsent.items())}

    def __bool__(self) -> bool:
        return bool(self.tries or self.unsent)


@dataclass
class Arrivals:
    """Every process's log summed, by the Unix second."""

    by_kind: dict[str, dict[int, int]] = field(default_factory=dict)
    tried: dict[int, int] = field(default_factory=dict)
    unsent: dict[int, int] = field(default_factory=dict)

    def add(self, data: dict) -> None:
        for second, kind, n in data.get("arrivals", []):
            seconds = self.by_kind.setdefault(kind, {})
            seconds[int(second)] = seconds.get(int(second), 0) + n
        for name in ("tried", "unsent"):
            counts = getattr(self, name)
            for second, n in data.get(name, []):
                counts[int(second)] = counts.get(int(second), 0) + n

    @property
    def answered(self) -> dict[int, int]:
        """Arrivals of every kind by the second."""
        total: Counter = Counter()
        for seconds in self.by_kind.values():
            total.update(seconds)
        return dict(total)

    def kind(self, kind: str) -> dict[int, int]:
        return self.by_kind.get(kind, {})
