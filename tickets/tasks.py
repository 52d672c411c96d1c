"""Celery tasks of the tickets app."""

from __future__ import annotations

from celery import shared_task

from tickets import services


@shared_task(name="tickets.tasks.sweep_idle_conversations", ignore_result=True)
def sweep_idle_conversations() -> int:
    """Every minute (CELERY_BEAT_SCHEDULE): idle chats become tickets.

    Safe to run twice at once or after a crash: batches lock their conversations with SKIP
    LOCKED and a covered message is never converted again, so no retry is declared; the
    next minute's run is the retry.
    """
    return services.ticket_sweep_idle_conversations()
