"""Tasks of page authorization (messenger.pages): the tokens' expiry sweep."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

TOKEN_EXPIRY_SWEEP = "messenger.pages.token_expiry_sweep"


@shared_task(name=TOKEN_EXPIRY_SWEEP, ignore_result=True)
def token_expiry_sweep() -> dict[str, int]:
    """Hourly (CELERY_BEAT_SCHEDULE): pages near or past their reauthorize-by time, and a
    bounded batch of /debug_token checks. Set-based and safe to run twice."""
    from messenger.pages import sweeps

    return asdict(sweeps.token_expiry_sweep())
