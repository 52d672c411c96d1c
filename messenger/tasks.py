"""Celery tasks of the messenger app."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from messenger import pages


@shared_task(name="messenger.tasks.token_expiry_sweep", ignore_result=True)
def token_expiry_sweep() -> dict[str, int]:
    """Hourly (CELERY_BEAT_SCHEDULE): pages near or past their reauthorize-by time, and a
    bounded batch of /debug_token checks. Set-based and safe to run twice."""
    return asdict(pages.token_expiry_sweep())
