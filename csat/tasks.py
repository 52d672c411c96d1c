"""Tasks of customer satisfaction (csat.services)."""

from __future__ import annotations

from celery import shared_task

ANSWERS_RECORD = "csat.answers_record"
SWEEP = "csat.sweep"


@shared_task(name=ANSWERS_RECORD, acks_late=True, ignore_result=True, autoretry_for=(Exception,), max_retries=3)
def answers_record(message_ids: list[int]) -> None:
    """Read the ratings these customers' taps answer; safe to run twice."""
    from csat import services

    services.answers_record(message_ids=message_ids)


@shared_task(name=SWEEP, ignore_result=True)
def surveys_sweep() -> None:
    """Every 5 minutes (CELERY_BEAT_SCHEDULE): see ``csat.services.surveys_sweep``."""
    from csat import services

    services.surveys_sweep()
