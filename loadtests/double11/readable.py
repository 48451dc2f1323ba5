"""Numbers as the report's reader reads them: 12,345 requests, 41.0 %, 0.73 s; "n/a" for a
figure not measured, never "None"; a mapping as "paid 12, expired 3", never a Python dict.

The record (report.json) keeps the raw values for machines; only the page and the summary
say them this way.
"""

from __future__ import annotations


def readable(value) -> str:
    """One value in a table cell."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) < 0.001:
            return "< 0.001" if value > 0 else "> -0.001"
        digits = 3 if abs(value) < 1 else 2
        return f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ') if isinstance(k, str) else k} {readable(v)}"
                         for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(v) for v in value) or "none"
    return str(value)


def readable_target(value, goal: str) -> str:
    """A target's value in its goal's terms: a percentage where the goal is one."""
    if isinstance(value, float) and "%" in goal:
        return f"{value * 100:.1f} %"
    return readable(value)


def heading(key: str) -> str:
    """A column's heading from its record key: "p50_ms" reads "p50 ms"."""
    return key.replace("_", " ")
