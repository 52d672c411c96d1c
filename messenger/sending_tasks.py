"""Celery tasks of outbound sending.

Celery's autodiscovery imports only ``<app>.tasks`` modules, and ``messenger/tasks.py``
belongs to the webhook work; so these tasks carry explicit names and this module is
imported by ``MessengerConfig.ready()``, which every process (web, worker, beat) runs
when Django starts: the worker registers them like any autodiscovered task.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from messenger.services import sending

SEND_MESSAGE = "messenger.send_message"
SEND_SENDER_ACTION = "messenger.send_sender_action"
SWEEP = "messenger.sending_sweep"


@shared_task(bind=True, name=SEND_MESSAGE, max_retries=sending.SEND_MAX_RETRIES, acks_late=True, ignore_result=True)
def send_message(self: Any, message_id: int) -> None:
    """Send one queued message; retried with backoff on rate limits and temporary errors."""
    countdown = sending.message_deliver(
        message_id=message_id, retries_done=self.request.retries, max_retries=self.max_retries
    )
    if countdown is not None:
        raise self.retry(countdown=countdown)


@shared_task(name=SEND_SENDER_ACTION, acks_late=True, ignore_result=True)
def send_sender_action(conversation_id: int, action: str) -> None:
    sending.sender_action_deliver(conversation_id=conversation_id, action=action)


@shared_task(name=SWEEP, ignore_result=True)
def sending_sweep() -> None:
    """Every 20 seconds (CELERY_BEAT_SCHEDULE): see ``messenger.services.sending.message_sweep``."""
    sending.message_sweep()
