"""Tasks of outbound sending (messenger.services.sending). Sends and sender actions run on
the `sending` queue (CELERY_TASK_ROUTES), so an agent's reply never waits behind downloads."""

from __future__ import annotations

from typing import Any

from celery import shared_task

SEND_MESSAGE = "messenger.sending.send_message"
SEND_SENDER_ACTION = "messenger.sending.send_sender_action"
SWEEP = "messenger.sending.sweep"

# Rate limits and temporary errors are tried again this many times, with backoff.
SEND_MAX_RETRIES = 5


@shared_task(bind=True, name=SEND_MESSAGE, max_retries=SEND_MAX_RETRIES, acks_late=True, ignore_result=True)
def send_message(self: Any, message_id: int) -> None:
    """Send one queued message; retried with backoff on rate limits and temporary errors."""
    from messenger.services.sending import delivery

    countdown = delivery.message_deliver(
        message_id=message_id, retries_done=self.request.retries, max_retries=self.max_retries
    )
    if countdown is not None:
        raise self.retry(countdown=countdown)


@shared_task(name=SEND_SENDER_ACTION, acks_late=True, ignore_result=True)
def send_sender_action(conversation_id: int, action: str) -> None:
    from messenger.services.sending import delivery

    delivery.sender_action_deliver(conversation_id=conversation_id, action=action)


@shared_task(name=SWEEP, ignore_result=True)
def sending_sweep() -> None:
    """Every 20 seconds (CELERY_BEAT_SCHEDULE): see ``messenger.services.sending.recovery.message_sweep``."""
    from messenger.services.sending import recovery

    recovery.message_sweep()
