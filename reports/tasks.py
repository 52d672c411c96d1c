"""Celery tasks of the reports app (conventions: messenger/tasks/__init__.py)."""

from __future__ import annotations

from celery import shared_task

FACTS_REFRESH = "reports.facts_refresh"


@shared_task(name=FACTS_REFRESH, ignore_result=True)
def facts_refresh() -> int:
    """Every five minutes (CELERY_BEAT_SCHEDULE): the reports' facts catch up with the
    conversations changed since. Idempotent; the next run is the retry."""
    from reports import services

    return services.facts_refresh()
