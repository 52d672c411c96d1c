"""Celery tasks of the Graph sandbox (conventions: messenger/tasks/__init__.py)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

DELIVER_PENDING_WEBHOOKS = "messenger.sandbox.deliver_pending_webhooks"


@shared_task(name=DELIVER_PENDING_WEBHOOKS, bind=True, max_retries=10, default_retry_delay=5, ignore_result=True)
def deliver_pending_webhooks(self: Any) -> int:
    """Send the webhooks the sandbox owes the product (echoes, deliveries).

    Safe to run twice or side by side: each row is claimed before it is sent. While the
    product refuses them, retried a few times; the simulator's polling also flushes.
    """
    from messenger.sandbox import webhooks

    delivered = webhooks.outbound_flush()
    if webhooks.outbound_pending_count():
        raise self.retry()
    return delivered
