"""The minute's job that keeps the SLA times of conversations (messenger.services.sla)."""

from __future__ import annotations

from celery import shared_task

CONVERSATIONS_SLA_SWEEP = "messenger.sla.sweep"


@shared_task(name=CONVERSATIONS_SLA_SWEEP, ignore_result=True)
def conversations_sla_sweep() -> int:
    """Safe to run twice: a second run finds nothing to time, warn of or mark."""
    from messenger.services.sla import conversations_sla_sweep as sweep

    result = sweep()
    return result.timed + result.warned + result.breached
