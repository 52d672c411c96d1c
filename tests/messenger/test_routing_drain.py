"""Draining the queue (messenger.routing.drain) and what starts it: an agent coming online or
gaining capacity (the availability signals), a conversation closed or taken from them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

from django.utils import timezone

from availability import signals as availability_signals
from availability.models import Status
from channels.models import AssignmentMode
from messenger.models import Conversation, ConversationEvent
from messenger.routing import triggers
from messenger.routing.drain import agent_backlog_drain
from messenger.services.conversations.state import conversation_close, conversation_reopen
from messenger.tasks import routing as routing_tasks
from tests import factories
from tests.conftest import Tenant
from tests.messenger.routing_world import agent, assignee_names, routing_channel, set_status, waiting


def _queued(channel: Any, minutes_ago: int, **fields: Any) -> Conversation:
    return waiting(channel, queued_at=timezone.now() - timedelta(minutes=minutes_ago), **fields)


def test_an_agent_coming_online_takes_the_oldest_queued_conversations_up_to_their_room(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko", status=Status.OFFLINE, capacity=3)
    waiting(channel, assignee=aiko.user)  # one open already: room for two
    newest, oldest, middle = _queued(channel, 1), _queued(channel, 30), _queued(channel, 10)
    set_status(aiko, Status.ONLINE, capacity=3)
    aiko.refresh_from_db()

    assert agent_backlog_drain(membership=aiko) == 2

    assert assignee_names([oldest, middle, newest]) == ["Aiko", "Aiko", None]
    assert oldest.queued_at is None and newest.queued_at is not None
    lines = ConversationEvent.objects.filter(kind="assigned").order_by("conversation_id")
    assert [line.data["by"] for line in lines] == ["queue", "queue"]
    assert agent_backlog_drain(membership=aiko) == 0  # full now


def test_a_drain_takes_only_from_channels_the_agent_may_take_with_assignment_on(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko")
    not_hers = routing_channel(tenant_a)
    turned_off = routing_channel(tenant_a, AssignmentMode.OFF)
    factories.associate(aiko, turned_off)
    disabled = routing_channel(tenant_a, is_enabled=False)
    factories.associate(aiko, disabled)
    others = [_queued(not_hers, 50), _queued(turned_off, 40), _queued(disabled, 30)]
    blocked = _queued(channel, 20, contact=factories.make_contact(factories.make_page(channel), is_blocked=True))
    closed = _queued(channel, 15, state="closed")
    mine = _queued(channel, 10)

    assert agent_backlog_drain(membership=aiko) == 1

    assert assignee_names([*others, blocked, closed, mine]) == [None, None, None, None, None, "Aiko"]


def test_an_agent_who_is_not_online_takes_nothing(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko", status=Status.AWAY)
    conversation = _queued(channel, 5)

    assert agent_backlog_drain(membership=aiko) == 0
    assert assignee_names([conversation]) == [None]


def test_coming_online_queues_a_drain_for_that_member_once_committed(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    with mock.patch.object(routing_tasks.drain_agent, "delay", autospec=True) as delay:
        with django_capture_on_commit_callbacks(execute=True):
            availability_signals.status_changed.send(
                sender=None, membership=tenant_a.agent, old_status=Status.OFFLINE, new_status=Status.ONLINE
            )
            availability_signals.status_changed.send(
                sender=None, membership=tenant_a.admin, old_status=Status.ONLINE, new_status=Status.AWAY
            )
    delay.assert_called_once_with(tenant_a.agent.pk)


def test_a_capacity_change_drains_to_the_member_or_the_whole_organization(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        mock.patch.object(routing_tasks.drain_agent, "delay", autospec=True) as drain_agent,
        mock.patch.object(routing_tasks.drain_organization, "delay", autospec=True) as drain_organization,
        django_capture_on_commit_callbacks(execute=True),
    ):
        availability_signals.capacity_changed.send(sender=None, membership=tenant_a.agent)
        availability_signals.capacity_changed.send(sender=None, organization=tenant_a.organization)
    drain_agent.assert_called_once_with(tenant_a.agent.pk)
    drain_organization.assert_called_once_with(tenant_a.organization.pk)


def test_the_triggers_online_status_is_availabilitys() -> None:
    assert triggers.ONLINE == Status.ONLINE


def test_closing_a_conversation_frees_room_and_the_queue_drains_to_its_agent(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko", capacity=1)
    held = waiting(channel, assignee=aiko.user)
    queued = _queued(channel, 5)

    with (
        mock.patch.object(routing_tasks.drain_agent, "delay", autospec=True, side_effect=routing_tasks.drain_agent),
        django_capture_on_commit_callbacks(execute=True),
    ):
        conversation_close(organization=tenant_a.organization, acting_user=aiko.user, conversation=held)

    assert assignee_names([queued]) == ["Aiko"]
    assert ConversationEvent.objects.get(conversation=queued).data["by"] == "queue"


def test_closing_an_offline_agents_conversation_queues_no_drain(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko", status=Status.OFFLINE)
    held = waiting(channel, assignee=aiko.user)
    with (
        mock.patch.object(routing_tasks.drain_agent, "delay", autospec=True) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        conversation_close(organization=tenant_a.organization, acting_user=aiko.user, conversation=held)
    delay.assert_not_called()


def test_a_closed_conversation_leaves_the_queue_and_reopened_unassigned_it_is_routed(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    channel = routing_channel(tenant_a)
    queued = _queued(channel, 5)
    conversation_close(organization=tenant_a.organization, acting_user=tenant_a.admin.user, conversation=queued)
    queued.refresh_from_db()
    assert queued.queued_at is None

    agent(tenant_a, channel, "Aiko")
    with (
        mock.patch.object(
            routing_tasks.route_conversations, "delay", autospec=True, side_effect=routing_tasks.route_conversations
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        conversation_reopen(organization=tenant_a.organization, acting_user=tenant_a.admin.user, conversation=queued)
    assert assignee_names([queued]) == ["Aiko"]


def test_the_drain_task_of_a_member_who_is_gone_does_nothing(tenant_a: Tenant) -> None:
    routing_tasks.drain_agent(10**9)
    routing_tasks.drain_organization(tenant_a.organization.pk)


def test_an_organization_drain_serves_online_agents_while_the_queue_lasts(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    agent(tenant_a, channel, "Aiko", capacity=1)
    agent(tenant_a, channel, "Ben", capacity=1)
    queued = [_queued(channel, 30), _queued(channel, 20), _queued(channel, 10)]

    routing_tasks.drain_organization(tenant_a.organization.pk)

    assert sorted(map(str, assignee_names(queued))) == ["Aiko", "Ben", "None"]
    assert assignee_names(queued)[2] is None
