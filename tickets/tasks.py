"""Celery tasks of the tickets app (conventions: messenger/tasks/__init__.py)."""

from __future__ import annotations

from celery import shared_task

SWEEP_IDLE_CONVERSATIONS = "tickets.conversion.sweep_idle_conversations"


@shared_task(name=SWEEP_IDLE_CONVERSATIONS, ignore_result=True)
def sweep_idle_conversations() -> int:
    """Every minute (CELERY_BEAT_SCHEDULE): idle chats become tickets.

    Safe to run twice at once or after a crash: batches lock their conversations with SKIP
    LOCKED and a covered message is never converted again, so no retry is declared; the
    next minute's run is the retry.
    """
    from tickets import services

    return services.ticket_sweep_idle_conversations()


TICKETS_SLA_SWEEP = "tickets.sla.sweep"


@shared_task(name=TICKETS_SLA_SWEEP, ignore_result=True)
def tickets_sla_sweep() -> int:
    """Every minute: resolution targets of tickets timed, warned of and marked breached.
    Safe to run twice: a second run finds nothing to do."""
    from tickets import services_sla

    result = services_sla.tickets_sla_sweep()
    return result.timed + result.warned + result.breached
