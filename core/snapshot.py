"""Values derived from settings, worked out once and worked out again when a setting changes.

`django.conf.settings` is a lazy object: every attribute read goes through its
`__getattribute__`, about two microseconds on this machine. A hot request path that reads
twenty settings pays more for them than for its own decision. `from_settings` turns a
function of the settings into a cached value, dropped whenever Django says a setting changed
(`override_settings`, pytest-django's `settings` fixture), so tests that change a setting see
the change on the next call, exactly as with direct reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from django.core.signals import setting_changed

T = TypeVar("T")

_snapshots: list[FromSettings] = []
# Bumped by every setting change: a value built while a setting changed is not kept.
_generation = [0]


class FromSettings(Generic[T]):
    """`build()` once, until the next setting change (then built again on the next call)."""

    __slots__ = ("_build", "_value")

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None

    def __call__(self) -> T:
        value = self._value
        if value is None:
            generation = _generation[0]
            value = self._build()
            if generation == _generation[0]:  # else a setting changed meanwhile: build again
                self._value = value           # on the next call
        return value

    def clear(self) -> None:
        self._value = None


def from_settings(build: Callable[[], T]) -> FromSettings[T]:
    """Decorator: the function's value, cached until a setting changes. It must not return
    None (None means "not built yet")."""
    snapshot = FromSettings(build)
    _snapshots.append(snapshot)
    return snapshot


def clear_all(**_kwargs) -> None:
    _generation[0] += 1
    for snapshot in _snapshots:
        snapshot.clear()


setting_changed.connect(clear_all, dispatch_uid="core.snapshot.clear_all")
