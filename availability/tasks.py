"""Celery tasks of availability (task names `<app>.<area>.<action>`, see messenger/tasks/__init__.py)."""

from __future__ import annotations

from celery import shared_task

SWEEP = "availability.status.sweep"


@shared_task(name=SWEEP, acks_late=True, ignore_result=True)
def sweep() -> None:
    """Every minute (CELERY_BEAT_SCHEDULE): idle members away, members without an open tab offline."""
    from availability import services

    services.availability_sweep()
