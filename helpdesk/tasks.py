"""Celery tasks of the project layer: emails that must not be sent inside a request.

Conventions (task names `<app>.<area>.<action>`, the service imported inside the task): see
messenger/tasks/__init__.py.
"""

from __future__ import annotations

from celery import shared_task

EMAIL_SEND = "helpdesk.email.send"


@shared_task(
    name=EMAIL_SEND,
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=6,
    acks_late=True,
    ignore_result=True,
)
def email_send(subject: str, body: str, to: list[str]) -> None:
    """Send one plain-text email (the mail server's connection errors are retried)."""
    from helpdesk import services

    services.email_send(subject=subject, body=body, to=to)


IDEMPOTENCY_KEYS_PRUNE = "helpdesk.idempotency.prune"


@shared_task(name=IDEMPOTENCY_KEYS_PRUNE, ignore_result=True)
def idempotency_keys_prune() -> None:
    """Delete the API's Idempotency-Keys past their retention (safe to run twice)."""
    from helpdesk import idempotency

    idempotency.idempotency_keys_prune()
