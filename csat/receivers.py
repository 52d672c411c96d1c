"""What csat does when lower apps signal (helpdesk.signals): asks for a rating when an agent
finishes a conversation, reads the customers' taps after the webhook's commit."""

from __future__ import annotations

import logging
from typing import Any

from csat import services

logger = logging.getLogger(__name__)


def conversation_finished(
    sender: Any,
    *,
    organization_id: int,
    conversation_ids: list[int],
    acting_user_id: int | None,
    occasion: str,
    occasion_ids: dict[int, int],
    **kwargs: Any,
) -> None:
    # A rating that cannot be asked never stops the agent from closing (the writes have their
    # own savepoint in the service).
    try:
        services.surveys_ask(
            organization_id=organization_id,
            conversation_ids=conversation_ids,
            acting_user_id=acting_user_id,
            occasion=occasion,
            occasion_ids=occasion_ids,
        )
    except Exception:
        logger.exception("could not ask for the rating of conversations %s", conversation_ids)


def quick_replies_received(sender: Any, *, quick_replies: list[tuple[int, int, int, str]], **kwargs: Any) -> None:
    services.answers_enqueue(quick_replies)
