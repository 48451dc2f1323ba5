"""A sale's dashboard for ops (reads only): the report's numbers, its ring cases, the units
flagged accounts hold, what happened minute by minute, and the gate's buckets.

Every figure is an aggregate query, so the page costs the same dozen queries for a sale of
ten orders or of a million. The scalper share needs to know who the scalpers are: only a
load test's replay knows (its personas are in its own output files, loadtests.double11), so
here it is unknown, never guessed. With Redis unreachable the page still renders: the gate's
figures say they cannot be read, the database's are all there.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.db.models import Count, Sum
from django.db.models.functions import TruncMinute
from django.utils.translation import gettext as _

from antiscalper.flags import FLAGGED
from antiscalper.models import AttemptSignal, RingCase, RiskDecision
from sales import selectors
from sales.models import HOLDING, FlashSale
from sales.report import gate_figures, sale_record
from shop.models import Order, OrderLine

MAX_BARS = 120


def per_minute(rows) -> list[tuple[datetime, int]]:
    """(minute, count) rows, every minute between the first and the last (zeros included),
    in buckets of several minutes when the span is longer than MAX_BARS minutes."""
    counts = Counter({minute: n for minute, n in rows if minute is not None})
    if not counts:
        return []
    first, last = min(counts), max(counts)
    minutes = int((last - first).total_seconds() // 60) + 1
    step = max(1, -(-minutes // MAX_BARS))
    buckets: Counter = Counter()
    for minute, n in counts.items():
        buckets[int((minute - first).total_seconds() // 60) // step] += n
    return [(first + timedelta(minutes=b * step), buckets.get(b, 0))
            for b in range(-(-minutes // step))]


def sale_dashboard(*, sale: FlashSale) -> dict:
    """What the dashboard shows; `series` are (title, step in minutes, [(start, count)])."""
    buckets = selectors.sale_buckets(sale=sale)  # never raises: says when Redis is down
    report = {**sale_record(sale=sale), **gate_figures(buckets=buckets)}
    cases = dict(RingCase.objects.filter(sale_id=sale.pk).values("status")
                 .annotate(n=Count("id")).values_list("status", "n"))
    flagged_users = RiskDecision.objects.filter(sale_id=sale.pk, decision__in=FLAGGED) \
        .values("user_id")
    flagged_units = OrderLine.objects.filter(
        order__sale_id=sale.pk, order__status__in=HOLDING, order__user_id__in=flagged_users,
    ).aggregate(u=Sum("quantity"))["u"] or 0
    attempts = AttemptSignal.objects.filter(sale_id=sale.pk)
    admitted = per_minute(attempts.filter(verdict="admitted").annotate(m=TruncMinute("at"))
                          .values("m").annotate(n=Count("id")).values_list("m", "n"))
    refused = per_minute(attempts.exclude(verdict="admitted").annotate(m=TruncMinute("at"))
                         .values("m").annotate(n=Count("id")).values_list("m", "n"))
    orders = per_minute(Order.objects.filter(sale_id=sale.pk)
                        .annotate(m=TruncMinute("created_at")).values("m")
                        .annotate(n=Count("id")).values_list("m", "n"))
    expired = report["orders_by_status"].get("expired", 0)
    return {
        "report": report, "expired_orders": expired,
        "cases": {status: cases.get(status, 0) for status in RingCase.Status.values},
        "flagged_units": flagged_units, "buckets": buckets,
        "series": [(_("Admitted attempts"), admitted), (_("Refused attempts"), refused),
                   (_("Orders written"), orders)],
    }
