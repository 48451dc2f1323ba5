"""A sale's numbers for ops (`GET /api/v1/ops/sales/{id}/report`), from the database's record
and the gate: what sold, what was paid, what expired or was rejected, who was flagged, and
each of the gate's buckets (`sale_record` and `gate_figures`, which the dashboard reads apart
so that it renders while Redis is down)."""

from __future__ import annotations

import redis
from django.db.models import Count, Sum

from antiscalper.models import RiskDecision
from sales import selectors
from sales.models import FlashSale, RejectedTicket, StockReturn
from sales.pipeline.orders import STALE_GATE_REASONS
from sales.services import HOLDING
from shop.models import Order, OrderLine, OrderStatus


def sale_report(*, sale: FlashSale) -> dict:
    """Counts, not samples: every figure is one aggregate query (or one gate read a bucket).
    Raises redis.RedisError when the gate cannot be read (the API answers 503)."""
    buckets = selectors.sale_buckets(sale=sale)
    if not buckets.readable:
        raise redis.ConnectionError(buckets.error)
    return {**sale_record(sale=sale), **gate_figures(buckets=buckets)}


def sale_record(*, sale: FlashSale) -> dict:
    """The report's figures from the database alone."""
    lines = OrderLine.objects.filter(order__sale_id=sale.pk)
    units_by_status = dict(lines.values("order__status").annotate(units=Sum("quantity"))
                           .values_list("order__status", "units"))
    orders_by_status = dict(Order.objects.filter(sale_id=sale.pk).values("status")
                            .annotate(n=Count("id")).values_list("status", "n"))
    held = sum(units_by_status.get(status, 0) for status in HOLDING)
    rejected = dict(RejectedTicket.objects.filter(sale=sale).values("reason")
                    .annotate(n=Count("id")).values_list("reason", "n"))
    flagged = dict(RiskDecision.objects.filter(sale_id=sale.pk).values("decision")
                   .annotate(n=Count("user_id", distinct=True))
                   .values_list("decision", "n"))
    return {
        "sale": sale.pk, "stock": sale.stock, "fcode_quota": sale.fcode_quota,
        "units_held": held, "oversold": max(held - sale.stock, 0),
        "units_paid": units_by_status.get(OrderStatus.PAID, 0)
        + units_by_status.get(OrderStatus.SHIPPED, 0)
        + units_by_status.get(OrderStatus.DELIVERED, 0),
        "orders_by_status": orders_by_status,
        "units_returned": StockReturn.objects.filter(sale=sale)
        .aggregate(u=Sum("quantity"))["u"] or 0,
        "tickets_rejected": rejected,
        # Tickets a gate admitted that the database refused (its Redis came back older than
        # what it had sold): the guard in `sales.pipeline.orders` held the line.
        "admitted_by_stale_gate": sum(rejected.get(reason, 0) for reason in STALE_GATE_REASONS),
        "tickets_lost_with_redis": rejected.get("gate_rebuilt", 0),
        "accounts_flagged": {"review": flagged.get("review", 0), "block": flagged.get("block", 0)},
        "scalper_share": None,  # needs the load test's labels: see the Double-11 report
    }


def gate_figures(*, buckets: selectors.SaleBuckets) -> dict:
    """The report's figures from the gate, over its buckets (`selectors.sale_buckets`): units
    left and tickets queued (None when Redis cannot be read), and each bucket."""
    rows = buckets.rows
    whole = bool(rows) and all(row.loaded for row in rows)
    return {
        "tickets_queued": buckets.total("queued") if buckets.readable else None,
        "stock_left": buckets.total("stock_left") if whole else None,
        "gate_loaded": whole,
        "buckets": buckets.as_dict(),
    }
