"""Celery tasks of outgoing webhooks, on their own queue `outgoing` (settings.CELERY_TASK_ROUTES)."""

from __future__ import annotations

from celery import shared_task

DELIVER = "outgoing.deliver"
SWEEP = "outgoing.sweep"


@shared_task(name=DELIVER, ignore_result=True)
def deliver(endpoint_id: int) -> None:
    """Send an endpoint's due deliveries (one sender per endpoint; a second run does nothing)."""
    from outgoing import services

    services.endpoint_deliver_and_follow(endpoint_id=endpoint_id)


@shared_task(name=SWEEP, ignore_result=True)
def sweep() -> dict[str, int]:
    """Every 15 s (CELERY_BEAT_SCHEDULE): retries due, deliveries and endpoints given up."""
    from outgoing import services

    return services.outgoing_sweep()
