"""Tasks of the out-of-hours reply (messenger.routing.out_of_hours). The webhook's
follow-ups queue it for a customer's message to a department that uses business hours
(`channels.hours.departments_with_business_hours`)."""

from __future__ import annotations

from datetime import UTC, datetime

from celery import shared_task

OUT_OF_HOURS_REPLY = "messenger.routing.out_of_hours_reply"


@shared_task(name=OUT_OF_HOURS_REPLY, acks_late=True, ignore_result=True)
def out_of_hours_reply(conversation_id: int, inbound_at: str) -> None:
    """Answer a customer's message written at ``inbound_at`` (ISO 8601, with its offset) if
    it came outside business hours; safe to run twice (one reply per closed period)."""
    from messenger.routing.out_of_hours import out_of_hours_reply_send

    written_at = datetime.fromisoformat(inbound_at)
    if written_at.tzinfo is None:
        written_at = written_at.replace(tzinfo=UTC)
    out_of_hours_reply_send(conversation_id=conversation_id, inbound_at=written_at)
