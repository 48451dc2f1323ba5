"""The risk path as it was before issue 15 (commit 4939842), frozen: a reference to compare with.

One module per module it was copied from: `feed` (sales.pipeline.risk_feed), `attempts`,
`rules` and `risk` (antiscalper's).

`test_risk_parity` runs the same attempts through this and through the current code and wants
the same decisions, explanations, counters and rows; `manage.py bench --risk-only` times both
side by side. The functions are the old ones verbatim (only module prefixes dropped, and
`Attempt.subnet` and `Rule.fires` inlined so that later changes to them cannot leak in); do
not edit them, or the comparison means nothing. One fix was made here and in the current code
alike, because it is a bug and not a speed-up: `feed.attempt_of` read the stream's `fcode`
field ("0" or "1") as truthy, so every purchase was recorded as an F-code attempt.
"""

from .attempts import attempts_record
from .feed import attempts_of
from .risk import risk_evaluate

__all__ = ["attempts_of", "attempts_record", "risk_evaluate"]
