"""Tasks of linked pages (messenger.pages): the tokens' expiry sweep, and page health."""

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


PAGE_SUBSCRIPTION_CHECK = "messenger.pages.subscription_check"
PAGE_SILENCE_CHECK = "messenger.pages.silence_check"


@shared_task(name=PAGE_SUBSCRIPTION_CHECK, ignore_result=True)
def page_subscription_check() -> dict[str, int]:
    """Daily (CELERY_BEAT_SCHEDULE): each linked page's webhook subscription asked, renewed
    when Facebook dropped it (messenger.pages.health)."""
    from messenger.pages import health

    return asdict(health.pages_subscription_check())


@shared_task(name=PAGE_SILENCE_CHECK, ignore_result=True)
def page_silence_check() -> dict[str, int]:
    """Hourly: pages unusually silent flagged, their admins told once (messenger.pages.health)."""
    from messenger.pages import health

    return asdict(health.pages_silence_check())
