"""A memo with a memory budget: what the hot path remembers about requests it has seen.

The rush path remembers things worked out from request headers (is this combination of host,
cookies and Accept one it may answer; the device, IP and client signals of these headers)
because a rush sends the same few combinations again and again. Keyed by the headers as sent,
a hostile client sending long, ever-different headers must not make a worker keep them: the
memo counts the characters of what it keeps and forgets everything at its budget (a miss only
costs the work the memo saves).
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K", bound=tuple)
V = TypeVar("V")

BUDGET_CHARACTERS = 256 * 1024  # per memo: a rush's few combinations fit many times over
ENTRIES_MAX = 1024


class Memo(Generic[K, V]):
    """A dict of tuples of strings (or None) to values, at most ENTRIES_MAX entries and
    BUDGET_CHARACTERS characters of keys; past either, it starts again empty."""

    __slots__ = ("_kept", "_characters", "budget", "entries")

    def __init__(self, *, budget: int = BUDGET_CHARACTERS, entries: int = ENTRIES_MAX) -> None:
        self._kept: dict[K, V] = {}
        self._characters = 0
        self.budget, self.entries = budget, entries

    def get(self, key: K, default=None):
        return self._kept.get(key, default)

    def put(self, key: K, value: V) -> V:
        size = sum(len(part) for part in key if isinstance(part, str))
        if size > self.budget:
            return value  # never kept: it alone would fill the memo
        if len(self._kept) >= self.entries or self._characters + size > self.budget:
            self._kept = {}
            self._characters = 0
        self._kept[key] = value
        self._characters += size
        return value

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        self._kept = {}
        self._characters = 0
