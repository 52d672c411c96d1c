"""The minute's jobs: conversations left unassigned too long, reply windows about to close."""

from __future__ import annotations

from celery import shared_task

UNASSIGNED_SWEEP = "messenger.alerts.unassigned_sweep"


@shared_task(name=UNASSIGNED_SWEEP, ignore_result=True)
def unassigned_sweep() -> int:
    """Safe to run twice: each stretch without an agent is told once."""
    from messenger.services.unassigned_alerts import unassigned_alerts_send

    return unassigned_alerts_send()


WINDOW_SWEEP = "messenger.alerts.window_sweep"


@shared_task(name=WINDOW_SWEEP, ignore_result=True)
def window_sweep() -> int:
    """Safe to run twice: each window of each customer message is told of once, lost once."""
    from messenger.services.window_alerts import window_alerts_send

    return window_alerts_send().total
