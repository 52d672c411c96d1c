"""Tasks of the inbox's view counts (messenger.open_counts)."""

from __future__ import annotations

from celery import shared_task

FOLD = "messenger.counts.fold"


@shared_task(name=FOLD, ignore_result=True)
def open_counts_fold() -> None:
    """Fold the rows of the open conversation counts into one per (channel, assignee)."""
    from messenger.open_counts import fold

    fold()
