"""Routing (messenger.routing.route): who gets a new conversation, and when it waits in the queue."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from availability.models import AvailabilitySettings, Status
from channels.models import AgentChannel, AssignmentMode
from helpdesk.models import Role
from messenger.models import Conversation, ConversationEvent
from messenger.routing.route import conversations_route
from tests import factories
from tests.conftest import Tenant
from tests.messenger.routing_world import agent, assignee_names, routing_channel, set_status, waiting


def test_round_robin_gives_each_online_agent_one_in_turn_then_starts_again(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    aiko, ben, cara = (agent(tenant_a, channel, name) for name in ("Aiko", "Ben", "Cara"))
    conversations = [waiting(channel) for _ in range(5)]

    conversations_route(conversation_ids=[c.pk for c in conversations])

    # Never assigned first, ties by membership id; then the one assigned longest ago.
    assert assignee_names(conversations) == ["Aiko", "Ben", "Cara", "Aiko", "Ben"]
    assert aiko.pk < ben.pk < cara.pk
    last = dict(
        AgentChannel.objects.filter(channel=channel).values_list("membership__user__first_name", "last_assigned_at")
    )
    assert last["Cara"] < last["Aiko"] < last["Ben"]


def test_round_robin_starts_with_the_agent_assigned_longest_ago(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    aiko, ben = agent(tenant_a, channel, "Aiko"), agent(tenant_a, channel, "Ben")
    now = timezone.now()
    AgentChannel.objects.filter(membership=aiko).update(last_assigned_at=now - timedelta(minutes=1))
    AgentChannel.objects.filter(membership=ben).update(last_assigned_at=now - timedelta(minutes=5))
    conversation = waiting(channel)

    conversations_route(conversation_ids=[conversation.pk])

    assert assignee_names([conversation]) == ["Ben"]


def test_least_loaded_gives_the_conversation_to_the_agent_with_fewest_open_ones(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a, AssignmentMode.LEAST_LOADED)
    aiko, ben = agent(tenant_a, channel, "Aiko"), agent(tenant_a, channel, "Ben")
    waiting(channel, assignee=aiko.user)
    waiting(channel, assignee=aiko.user)
    waiting(channel, assignee=ben.user)
    waiting(channel, assignee=ben.user, state="closed")  # closed ones are no load
    new = [waiting(channel), waiting(channel)]

    conversations_route(conversation_ids=[c.pk for c in new])

    # Ben (1 open) first; then both hold 2, and Aiko was assigned longest ago (never).
    assert assignee_names(new) == ["Ben", "Aiko"]
    event = ConversationEvent.objects.get(conversation=new[0], kind="assigned")
    assert event.data["by"] == "least_loaded"
    assert event.actor is None


def test_load_counts_open_conversations_of_every_channel_of_the_organization(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a, AssignmentMode.LEAST_LOADED)
    other = factories.make_channel(tenant_a.organization, tenant_a.department)
    aiko = agent(tenant_a, channel, "Aiko")
    agent(tenant_a, channel, "Ben")
    waiting(other, assignee=aiko.user)
    conversation = waiting(channel)

    conversations_route(conversation_ids=[conversation.pk])

    assert assignee_names([conversation]) == ["Ben"]


def test_an_agent_at_capacity_is_skipped_and_the_default_capacity_is_the_organizations(tenant_a: Tenant) -> None:
    AvailabilitySettings.objects.create(organization=tenant_a.organization, default_capacity=1)
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko")  # the organization's capacity: 1
    ben = agent(tenant_a, channel, "Ben", capacity=2)
    conversations = [waiting(channel) for _ in range(4)]

    report = conversations_route(conversation_ids=[c.pk for c in conversations])

    assert assignee_names(conversations) == ["Aiko", "Ben", "Ben", None]
    assert report.queued == [conversations[3].pk]
    assert aiko.pk and ben.pk


def test_without_any_capacity_setting_an_agent_holds_five(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    agent(tenant_a, channel, "Aiko")
    conversations = [waiting(channel) for _ in range(6)]

    conversations_route(conversation_ids=[c.pk for c in conversations])

    assert assignee_names(conversations) == ["Aiko"] * 5 + [None]


def test_with_nobody_online_the_conversation_is_queued_since_the_customer_waits(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    agent(tenant_a, channel, "Aiko", status=Status.AWAY)
    agent(tenant_a, channel, "Ben", status=Status.OFFLINE)
    since = timezone.now() - timedelta(minutes=3)
    conversation = waiting(channel, waiting_since=since)
    never_wrote = waiting(channel)

    before = timezone.now()
    conversations_route(conversation_ids=[conversation.pk, never_wrote.pk])

    conversation.refresh_from_db()
    never_wrote.refresh_from_db()
    assert conversation.assignee is None and conversation.queued_at == since
    assert never_wrote.assignee is None and never_wrote.queued_at >= before
    # Routed again: still queued, at the same place.
    conversations_route(conversation_ids=[conversation.pk])
    conversation.refresh_from_db()
    assert conversation.queued_at == since
    assert not ConversationEvent.objects.exists()


def test_an_agent_without_any_availability_row_is_offline(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    member = factories.make_member(tenant_a.organization, departments=[tenant_a.department])
    factories.associate(member, channel)
    conversation = waiting(channel)

    conversations_route(conversation_ids=[conversation.pk])

    assert assignee_names([conversation]) == [None]


def test_only_agents_who_see_the_channel_and_are_associated_with_it_are_candidates(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    elsewhere = factories.make_department(tenant_a.organization, "Sales")
    outsider = agent(tenant_a, channel, "Olga")
    outsider.departments.set([elsewhere])  # associated, but not in the channel's department: sees nothing
    admin = factories.make_member(tenant_a.organization, role=Role.ADMIN, username="boss", first_name="Boss")
    set_status(admin, Status.ONLINE)  # an admin sees the channel but is not one of its agents
    conversation = waiting(channel)

    conversations_route(conversation_ids=[conversation.pk])
    assert assignee_names([conversation]) == [None]

    factories.associate(admin, channel)  # an admin associated with the channel takes part
    Conversation.objects.filter(pk=conversation.pk).update(queued_at=None)
    conversations_route(conversation_ids=[conversation.pk])
    assert assignee_names([conversation]) == ["Boss"]


def test_an_inactive_member_is_never_assigned(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    gone = agent(tenant_a, channel, "Gone")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    conversation = waiting(channel)

    conversations_route(conversation_ids=[conversation.pk])

    assert assignee_names([conversation]) == [None]


def test_channel_with_assignment_off_is_left_alone(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a, AssignmentMode.OFF)
    agent(tenant_a, channel, "Aiko")
    conversation = waiting(channel)

    report = conversations_route(conversation_ids=[conversation.pk])

    conversation.refresh_from_db()
    assert conversation.assignee is None and conversation.queued_at is None
    assert report.assigned == report.queued == []


def test_blocked_customers_and_disabled_or_deleted_channels_are_never_assigned(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko")
    blocked = waiting(channel, contact=factories.make_contact(factories.make_page(channel), is_blocked=True))
    disabled_channel = routing_channel(tenant_a, is_enabled=False)
    deleted_channel = routing_channel(tenant_a, deleted_at=timezone.now())
    for other in (disabled_channel, deleted_channel):
        factories.associate(aiko, other)
    in_disabled, in_deleted = waiting(disabled_channel), waiting(deleted_channel)

    conversations_route(conversation_ids=[blocked.pk, in_disabled.pk, in_deleted.pk])

    for conversation in (blocked, in_disabled, in_deleted):
        conversation.refresh_from_db()
        assert conversation.assignee is None and conversation.queued_at is None


def test_closed_or_already_assigned_conversations_are_not_routed(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    agent(tenant_a, channel, "Aiko")
    closed = waiting(channel, state="closed")
    taken = waiting(channel, assignee=tenant_a.admin.user)

    conversations_route(conversation_ids=[closed.pk, taken.pk])

    closed.refresh_from_db()
    taken.refresh_from_db()
    assert closed.assignee_id is None and closed.queued_at is None
    assert taken.assignee_id == tenant_a.admin.user_id
    assert not ConversationEvent.objects.exists()


def test_an_automatic_assignment_takes_the_conversation_out_of_the_queue(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    agent(tenant_a, channel, "Aiko")
    conversation = waiting(channel, queued_at=timezone.now())

    conversations_route(conversation_ids=[conversation.pk])

    conversation.refresh_from_db()
    assert conversation.assignee is not None and conversation.queued_at is None
    event = ConversationEvent.objects.get(conversation=conversation)
    assert event.kind == "assigned"
    assert event.data["by"] == "round_robin"
    assert event.data["to"]["first_name"] == "Aiko"
