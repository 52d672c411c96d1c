"""Tasks of the inbox search (messenger.services.search)."""

from __future__ import annotations

from celery import shared_task

INDEX = "messenger.search.index"


@shared_task(name=INDEX, ignore_result=True)
def message_search_index() -> None:
    """Copy new message texts for the inbox search (messenger.services.search), a batch at a time."""
    from messenger.services.search import message_search_index as index

    index()
