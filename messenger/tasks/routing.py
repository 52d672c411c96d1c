"""Tasks of automatic assignment (messenger.routing): route conversations, drain the queue
to an agent (or to every online agent of an organization), and the minute's sweep."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

ROUTE_CONVERSATIONS = "messenger.routing.route_conversations"
DRAIN_AGENT = "messenger.routing.drain_agent"
DRAIN_CHANNEL = "messenger.routing.drain_channel"
DRAIN_ORGANIZATION = "messenger.routing.drain_organization"
SWEEP = "messenger.routing.sweep"


@shared_task(name=ROUTE_CONVERSATIONS, ignore_result=True)
def route_conversations(conversation_ids: list[int]) -> None:
    """Assign each conversation to an online agent of its channel with room, or queue it."""
    from messenger.routing.route import conversations_route

    conversations_route(conversation_ids=conversation_ids)


@shared_task(name=DRAIN_CHANNEL, ignore_result=True)
def drain_channel(channel_id: int) -> None:
    """Hand the channel's queue, oldest first, to its online agents with room by its rule."""
    from messenger.routing.route import channel_queue_drain_requested

    channel_queue_drain_requested(channel_id=channel_id)


@shared_task(name=DRAIN_AGENT, ignore_result=True)
def drain_agent(membership_id: int) -> None:
    """Give the agent the oldest queued conversations they may take, up to their room."""
    from messenger.routing.drain import agent_backlog_drain_by_id

    agent_backlog_drain_by_id(membership_id=membership_id)


@shared_task(name=DRAIN_ORGANIZATION, ignore_result=True)
def drain_organization(organization_id: int) -> None:
    """Drain the queue to every online agent of the organization (its capacity changed)."""
    from messenger.routing.drain import organization_backlog_drain

    organization_backlog_drain(organization_id=organization_id)


@shared_task(name=SWEEP, ignore_result=True)
def routing_sweep() -> None:
    """Every minute (CELERY_BEAT_SCHEDULE): see ``messenger.routing.sweep.routing_sweep``."""
    from messenger.routing.sweep import routing_sweep as sweep

    report = sweep()
    if report.routed or report.requeued or report.drained:
        logger.info(
            "routing sweep: %d conversation(s) routed, %d requeued, %d drained to agents",
            report.routed,
            report.requeued,
            report.drained,
        )
