"""Celery tasks: thin wrappers that call services (scheduled by beat, see settings)."""

from celery import shared_task

from antiscalper import linking, services


@shared_task(acks_late=True)
def blacklist_mirror_rebuild() -> dict[str, int]:
    """Rewrite the Redis blacklist mirror from the database; expired entries drop out."""
    return services.mirror_rebuild()


@shared_task(acks_late=True)
def risk_linking_run(sale_id: int) -> list[int]:
    """Link the sale's participants into clusters; returns the accounts whose orders go."""
    return linking.linking_run(sale_id=sale_id)
