"""Celery tasks: thin wrappers that call services (scheduled by beat, see settings)."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from sales import selectors, services
from sales.models import Draw
from sales.modes import draws
from sales.pipeline import linking_feed, reconcile, risk_feed
from sales.pipeline import orders as pipeline


@shared_task(acks_late=True)
def gates_preload() -> list[int]:
    return services.gates_preload()


@shared_task(acks_late=True)
def pipeline_tick() -> int:
    """Drain every sale whose gate is loaded and that ended less than an hour ago."""
    return sum(pipeline.drain(sale_id=sale_id, batch=settings.PIPELINE_BATCH,
                              min_idle_ms=settings.PIPELINE_MIN_IDLE_MS)
               for sale_id in selectors.sales_recently_loaded())


@shared_task(acks_late=True)
def attempts_drain() -> int:
    """Move the gate's recorded attempts into the anti-scalper signals."""
    return sum(risk_feed.attempts_drain(sale_id=sale_id)
               for sale_id in selectors.sales_recently_loaded())


@shared_task(acks_late=True)
def sales_linking() -> int:
    """The full linking pass (the reconciler): cancel the orders of accounts in scalper
    clusters, for live sales and for sales taking reservations."""
    return sum(linking_feed.linking_full(sale_id=sale_id)
               for sale_id in selectors.sales_linking_due())


@shared_task(acks_late=True)
def sales_linking_live() -> int:
    """The incremental linking step: decide the accounts that arrived in the last second."""
    return linking_feed.linking_tick()


@shared_task(acks_late=True)
def orders_expire_due() -> int:
    return services.orders_expire_due()


@shared_task(acks_late=True)
def gates_watch() -> list[int]:
    return reconcile.gates_watch()


@shared_task(acks_late=True)
def gates_reconcile() -> int:
    return sum(1 for drift in reconcile.gates_reconcile() if not drift.clean)


@shared_task(acks_late=True)
def draw_rights_pass_on() -> int:
    """Pass lapsed draw rights down each live draw's waitlist."""
    now = timezone.now()
    return sum(draws.draw_rights_pass_on(sale_id=sale_id) for sale_id in
               Draw.objects.filter(sale__ends_at__gt=now).values_list("sale_id", flat=True))


@shared_task(acks_late=True)
def reminders_send_due() -> int:
    """Text the "remind me" of sales opening in the next few minutes, each once."""
    return services.reminders_send_due()
