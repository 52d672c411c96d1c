"""The minute's job that tells admins of conversations left unassigned too long."""

from __future__ import annotations

from celery import shared_task

UNASSIGNED_SWEEP = "messenger.alerts.unassigned_sweep"


@shared_task(name=UNASSIGNED_SWEEP, ignore_result=True)
def unassigned_sweep() -> int:
    """Safe to run twice: each stretch without an agent is told once."""
    from messenger.services.unassigned_alerts import unassigned_alerts_send

    return unassigned_alerts_send()
