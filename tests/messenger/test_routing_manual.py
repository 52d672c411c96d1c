"""Manual assignment beside automatic assignment: it takes the conversation out of the queue,
and assigning an agent beyond their capacity is made but warned about (inbox toast, API)."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

from django.utils import timezone

from messenger.models import Conversation, ConversationEvent
from messenger.services.conversations.assignment import conversation_assign
from messenger.tasks import routing as routing_tasks
from tests.conftest import Tenant, api_client_for
from tests.messenger.routing_world import agent, assignee_names, routing_channel, waiting


def _full_agent(tenant: Tenant) -> tuple[Any, Any]:
    channel = routing_channel(tenant)
    aiko = agent(tenant, channel, "Aiko", capacity=1)
    waiting(channel, assignee=aiko.user)
    return channel, aiko


def test_assigning_an_agent_beyond_their_capacity_is_made_and_said(tenant_a: Tenant) -> None:
    channel, aiko = _full_agent(tenant_a)
    conversation = waiting(channel, queued_at=timezone.now())

    assignment = conversation_assign(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        conversation=conversation,
        assignee_membership_id=aiko.pk,
    )

    assert assignment.over_capacity is not None
    assert (assignment.over_capacity.load, assignment.over_capacity.capacity) == (2, 1)
    conversation.refresh_from_db()
    assert conversation.assignee_id == aiko.user_id and conversation.queued_at is None
    event = ConversationEvent.objects.get(conversation=conversation)
    assert event.actor_id == tenant_a.admin.user_id and "by" not in event.data


def test_assigning_within_capacity_says_nothing(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko", capacity=2)
    assignment = conversation_assign(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        conversation=waiting(channel),
        assignee_membership_id=aiko.pk,
    )
    assert assignment.over_capacity is None


def test_the_inbox_shows_a_warning_toast_when_the_assignee_is_over_capacity(
    tenant_a: Tenant, web_client_for: Any
) -> None:
    channel, aiko = _full_agent(tenant_a)
    conversation = waiting(channel)

    page = (
        web_client_for(tenant_a.admin)
        .post(f"/o/alpha/inbox/{conversation.pk}/assign/", {"assignee": aiko.pk}, follow=True)
        .content.decode()
    )

    toasts = page.split('id="toasts"', 1)[1]
    assert re.search(
        r'class="alert alert-warning[^"]*hd-toast"[^>]*role="status">\s*<span data-toast-text>'
        r"Aiko now holds 2 open conversations, more than their capacity of 1\.</span>",
        toasts,
    )
    assert assignee_names([conversation]) == ["Aiko"]


def test_the_api_answers_an_over_capacity_warning_with_the_assignment(tenant_a: Tenant) -> None:
    channel, aiko = _full_agent(tenant_a)
    conversation = waiting(channel)
    client = api_client_for(tenant_a.admin)

    response = client.post(f"/api/v1/conversations/{conversation.pk}/assign/", {"assignee_id": aiko.pk}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["assignee"]["user_id"] == aiko.user_id
    assert body["warning"]["code"] == "over_capacity"
    assert (body["warning"]["load"], body["warning"]["capacity"]) == (2, 1)
    within = client.post(f"/api/v1/conversations/{conversation.pk}/assign/", {"assignee_id": None}, format="json")
    assert "warning" not in within.json()


def test_forwarding_to_an_agent_beyond_their_capacity_is_made_and_said_in_the_inbox_and_the_api(
    tenant_a: Tenant, web_client_for: Any
) -> None:
    channel, aiko = _full_agent(tenant_a)
    first, second = waiting(channel), waiting(channel)

    page = (
        web_client_for(tenant_a.admin)
        .post(f"/o/alpha/inbox/{first.pk}/forward/", {"to": f"member:{aiko.pk}"}, follow=True)
        .content.decode()
    )
    assert "Aiko now holds 2 open conversations, more than their capacity of 1." in page.split('id="toasts"', 1)[1]

    response = api_client_for(tenant_a.admin).post(
        f"/api/v1/conversations/{second.pk}/forward/", {"to_membership_id": aiko.pk}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["warning"]["code"] == "over_capacity"
    assert (response.json()["warning"]["load"], response.json()["warning"]["capacity"]) == (3, 1)
    assert assignee_names([first, second]) == ["Aiko", "Aiko"]


def test_the_assign_endpoint_of_another_organization_is_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    channel, aiko = _full_agent(tenant_a)
    conversation = waiting(channel)
    response = api_client_for(tenant_b.admin).post(
        f"/api/v1/conversations/{conversation.pk}/assign/", {"assignee_id": aiko.pk}, format="json"
    )
    assert response.status_code == 404


def test_taking_a_conversation_from_an_online_agent_drains_the_queue_to_them(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    channel, aiko = _full_agent(tenant_a)
    held = waiting(channel, assignee=aiko.user)  # two open, room for one
    queued = waiting(channel, queued_at=timezone.now())
    ben = agent(tenant_a, channel, "Ben", capacity=5)

    def give_ben(conversation: Conversation) -> None:
        with (
            mock.patch.object(routing_tasks.drain_agent, "delay", autospec=True, side_effect=routing_tasks.drain_agent),
            django_capture_on_commit_callbacks(execute=True),
        ):
            conversation_assign(
                organization=tenant_a.organization,
                acting_user=tenant_a.admin.user,
                conversation=conversation,
                assignee_membership_id=ben.pk,
            )

    give_ben(Conversation.objects.filter(assignee=aiko.user).exclude(pk=held.pk).get())
    assert assignee_names([queued]) == [None]  # one open: still full
    give_ben(held)
    assert assignee_names([queued]) == ["Aiko"]  # room for one: the queue's oldest


def test_unassigning_in_a_channel_with_assignment_on_routes_the_conversation_again(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko")
    conversation = waiting(channel, assignee=aiko.user)
    with (
        mock.patch.object(routing_tasks.drain_agent, "delay", autospec=True),
        mock.patch.object(routing_tasks.route_conversations, "delay", autospec=True) as route,
        django_capture_on_commit_callbacks(execute=True),
    ):
        conversation_assign(
            organization=tenant_a.organization,
            acting_user=aiko.user,
            conversation=conversation,
            assignee_membership_id=None,
        )
    route.assert_called_once_with([conversation.pk])
