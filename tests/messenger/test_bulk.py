"""Bulk actions on conversations (messenger.services.conversations.bulk): one request, one
transaction, one system line per conversation changed, those already as asked reported
unchanged; an id the member does not see refuses everything with NotFound, what may not be
done to one of them refuses everything with the reason; the routing side effects follow."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels.models import Channel
from helpdesk import signals
from helpdesk.exceptions import BulkRefused, ChannelDeleted, InvalidAction, NotFound, TooManyConversations
from labels.models import Label
from messenger.models import Conversation, ConversationEvent, ConversationLabel, ConversationState
from messenger.services.conversations.assignment import conversation_assign
from messenger.services.conversations.bulk import MAX_CONVERSATIONS, conversations_bulk
from messenger.services.conversations.state import conversation_close, conversation_reopen
from messenger.tasks import routing as routing_tasks
from outgoing import services as outgoing_services
from tests import factories
from tests.conftest import Tenant
from tests.messenger.routing_world import agent, assignee_names, routing_channel, waiting


@pytest.fixture
def desk(tenant_a: Tenant) -> dict[str, Any]:
    """A channel the agent works in with three conversations, one already closed."""
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Shop")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel)
    names = ["Aiko", "Ben", "Chie"]
    conversations = [
        factories.make_conversation(page, factories.make_contact(page, display_name=name)) for name in names
    ]
    Conversation.objects.filter(pk=conversations[2].pk).update(state=ConversationState.CLOSED)
    return {"channel": channel, "page": page, "conversations": conversations}


def _bulk(tenant: Tenant, ids: list[int], action: str, *, as_admin: bool = False, **kwargs: Any) -> Any:
    membership = tenant.admin if as_admin else tenant.agent
    return conversations_bulk(
        organization=tenant.organization,
        acting_user=membership.user,
        membership=membership,
        conversation_ids=ids,
        action=action,
        **kwargs,
    )


def _lines(conversations: list[Conversation], kind: str | None = None) -> dict[int, int]:
    events = ConversationEvent.objects.filter(conversation__in=conversations)
    if kind is not None:
        events = events.filter(kind=kind)
    counts: dict[int, int] = {}
    for conversation_id in events.values_list("conversation_id", flat=True):
        counts[conversation_id] = counts.get(conversation_id, 0) + 1
    return counts


def _states(conversations: list[Conversation]) -> list[str]:
    return [Conversation.objects.get(pk=c.pk).state for c in conversations]


# --- Each action -------------------------------------------------------------------------------


def test_closing_closes_the_open_ones_and_reports_the_closed_one_unchanged(
    tenant_a: Tenant, desk: dict[str, Any]
) -> None:
    aiko, ben, chie = desk["conversations"]
    result = _bulk(tenant_a, [aiko.pk, ben.pk, chie.pk], "close")
    assert (result.changed, result.unchanged) == ([aiko.pk, ben.pk], [chie.pk])
    assert _states([aiko, ben, chie]) == ["closed", "closed", "closed"]
    assert _lines([aiko, ben, chie], ConversationEvent.Kind.CLOSED) == {aiko.pk: 1, ben.pk: 1}
    event = ConversationEvent.objects.get(conversation=aiko)
    assert event.actor_id == tenant_a.agent.user_id


def test_reopening_reopens_the_closed_one_only(tenant_a: Tenant, desk: dict[str, Any]) -> None:
    aiko, _ben, chie = desk["conversations"]
    result = _bulk(tenant_a, [aiko.pk, chie.pk], "reopen")
    assert (result.changed, result.unchanged) == ([chie.pk], [aiko.pk])
    assert _states([aiko, chie]) == ["open", "open"]
    assert _lines([aiko, chie]) == {chie.pk: 1}


def test_assigning_to_me_assigns_those_not_mine_with_one_line_each(tenant_a: Tenant, desk: dict[str, Any]) -> None:
    aiko, ben, chie = desk["conversations"]
    Conversation.objects.filter(pk=ben.pk).update(assignee=tenant_a.agent.user)
    result = _bulk(tenant_a, [aiko.pk, ben.pk, chie.pk], "assign", assignee_id="me")
    assert (result.changed, result.unchanged) == ([aiko.pk, chie.pk], [ben.pk])
    assert {c.assignee_id for c in Conversation.objects.filter(pk__in=[aiko.pk, ben.pk, chie.pk])} == {
        tenant_a.agent.user_id
    }
    assert _lines([aiko, ben, chie], ConversationEvent.Kind.ASSIGNED) == {aiko.pk: 1, chie.pk: 1}
    assert ConversationEvent.objects.get(conversation=aiko).data["to_user_id"] == tenant_a.agent.user_id


def test_assigning_to_another_member_and_unassigning(tenant_a: Tenant, desk: dict[str, Any]) -> None:
    aiko, ben, _chie = desk["conversations"]
    result = _bulk(tenant_a, [aiko.pk, ben.pk], "assign", assignee_id=tenant_a.admin.pk)
    assert result.changed == [aiko.pk, ben.pk] and result.assignee == tenant_a.admin
    assert set(Conversation.objects.filter(pk__in=[aiko.pk, ben.pk]).values_list("assignee_id", flat=True)) == {
        tenant_a.admin.user_id
    }

    Conversation.objects.filter(pk=ben.pk).update(assignee=None)
    result = _bulk(tenant_a, [aiko.pk, ben.pk], "assign", assignee_id=None)
    assert (result.changed, result.unchanged) == ([aiko.pk], [ben.pk])
    assert Conversation.objects.get(pk=aiko.pk).assignee_id is None
    unassigned = ConversationEvent.objects.get(conversation=aiko, kind=ConversationEvent.Kind.UNASSIGNED)
    assert unassigned.data["previous"]["username"] == tenant_a.admin.user.username


def test_adding_and_removing_a_label(tenant_a: Tenant, desk: dict[str, Any]) -> None:
    aiko, ben, chie = desk["conversations"]
    vip = Label.objects.create(organization=tenant_a.organization, name="VIP")
    ConversationLabel.objects.create(organization=tenant_a.organization, conversation=ben, label=vip)

    added = _bulk(tenant_a, [aiko.pk, ben.pk, chie.pk], "label_add", label_id=vip.pk)
    assert (added.changed, added.unchanged) == ([aiko.pk, chie.pk], [ben.pk])
    assert set(ConversationLabel.objects.filter(label=vip).values_list("conversation_id", flat=True)) == {
        aiko.pk,
        ben.pk,
        chie.pk,
    }
    assert _lines([aiko, ben, chie], ConversationEvent.Kind.LABEL_ADDED) == {aiko.pk: 1, chie.pk: 1}

    ConversationLabel.objects.filter(conversation=chie).delete()
    removed = _bulk(tenant_a, [aiko.pk, chie.pk], "label_remove", label_id=vip.pk)
    assert (removed.changed, removed.unchanged) == ([aiko.pk], [chie.pk])
    assert list(ConversationLabel.objects.filter(label=vip).values_list("conversation_id", flat=True)) == [ben.pk]


# --- Refused as a whole ------------------------------------------------------------------------


def test_a_conversation_of_another_organization_refuses_the_whole_request(
    tenant_a: Tenant, tenant_b: Tenant, desk: dict[str, Any]
) -> None:
    aiko, ben, _chie = desk["conversations"]
    foreign_channel = factories.make_channel(tenant_b.organization, tenant_b.department)
    foreign = factories.make_conversation(factories.make_page(foreign_channel))
    with pytest.raises(NotFound):
        _bulk(tenant_a, [aiko.pk, ben.pk, foreign.pk], "close", as_admin=True)
    assert _states([aiko, ben, foreign]) == ["open", "open", "open"]
    assert not ConversationEvent.objects.exists()


def test_a_conversation_the_agent_does_not_see_refuses_the_whole_request_an_admin_sees_it(
    tenant_a: Tenant, desk: dict[str, Any]
) -> None:
    aiko, _ben, _chie = desk["conversations"]
    elsewhere = factories.make_channel(tenant_a.organization, tenant_a.department, name="Elsewhere")
    hidden = factories.make_conversation(factories.make_page(elsewhere))
    with pytest.raises(NotFound):
        _bulk(tenant_a, [aiko.pk, hidden.pk], "close")
    with pytest.raises(NotFound):
        _bulk(tenant_a, [aiko.pk, 999_999_999], "close")
    assert _states([aiko, hidden]) == ["open", "open"]
    assert not ConversationEvent.objects.exists()

    result = _bulk(tenant_a, [aiko.pk, hidden.pk], "close", as_admin=True)
    assert result.changed == sorted([aiko.pk, hidden.pk])


def test_a_label_of_another_organization_is_not_found(tenant_a: Tenant, tenant_b: Tenant, desk: dict[str, Any]) -> None:
    aiko = desk["conversations"][0]
    theirs = Label.objects.create(organization=tenant_b.organization, name="VIP")
    with pytest.raises(NotFound):
        _bulk(tenant_a, [aiko.pk], "label_add", label_id=theirs.pk)
    assert not ConversationLabel.objects.exists()


def test_a_deleted_channels_conversation_refuses_reopening_and_assigning_with_the_reason(
    tenant_a: Tenant, desk: dict[str, Any]
) -> None:
    aiko, ben, chie = desk["conversations"]
    gone = factories.make_channel(tenant_a.organization, tenant_a.department, name="Old shop")
    factories.associate(tenant_a.agent, gone)
    old_page = factories.make_page(gone)
    old = factories.make_conversation(
        old_page, factories.make_contact(old_page, display_name="Daichi"), state=ConversationState.CLOSED
    )
    Channel.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())

    with pytest.raises(BulkRefused) as refused:
        _bulk(tenant_a, [chie.pk, old.pk], "reopen")
    assert refused.value.code == "bulk_refused" and refused.value.status == 409
    assert refused.value.details == {"conversations": [{"id": old.pk, "code": "channel_deleted", "reason": mock.ANY}]}
    assert "Daichi" in str(refused.value.message) and "deleted" in str(refused.value.message)
    assert _states([chie, old]) == ["closed", "closed"]  # Chie's, which could be reopened, was not

    with pytest.raises(BulkRefused):
        _bulk(tenant_a, [aiko.pk, old.pk], "assign", assignee_id="me")
    assert Conversation.objects.get(pk=aiko.pk).assignee_id is None
    assert not ConversationEvent.objects.exists()

    # Closing and unassigning a deleted channel's conversations is tidying up: allowed.
    Conversation.objects.filter(pk=old.pk).update(state=ConversationState.OPEN)
    assert _bulk(tenant_a, [ben.pk, old.pk], "close").changed == [ben.pk, old.pk]


def test_an_assignee_who_may_not_hold_a_channels_conversations_refuses_the_whole_request(
    tenant_a: Tenant, desk: dict[str, Any]
) -> None:
    aiko, _ben, _chie = desk["conversations"]
    other = factories.make_channel(tenant_a.organization, tenant_a.department, name="Other")
    factories.associate(tenant_a.agent, other)
    elsewhere = factories.make_conversation(
        factories.make_page(other), factories.make_contact(factories.make_page(other), display_name="Emi")
    )
    kenji = factories.make_member(tenant_a.organization, departments=[tenant_a.department], first_name="Kenji")
    factories.associate(kenji, desk["channel"])  # Kenji holds Shop's conversations, not Other's

    with pytest.raises(BulkRefused) as refused:
        _bulk(tenant_a, [aiko.pk, elsewhere.pk], "assign", assignee_id=kenji.pk)
    assert [c["id"] for c in refused.value.details["conversations"]] == [elsewhere.pk]
    assert refused.value.details["conversations"][0]["code"] == "not_assignable"
    assert "Kenji may not hold conversations of the channel Other." in str(refused.value.message)
    assert Conversation.objects.filter(assignee__isnull=False).count() == 0

    assert _bulk(tenant_a, [aiko.pk], "assign", assignee_id=kenji.pk).changed == [aiko.pk]


@pytest.mark.parametrize(
    ("ids", "action", "error"),
    [
        ("desk", "archive", InvalidAction),
        ("too_many", "close", TooManyConversations),
    ],
)
def test_bad_input_is_refused(tenant_a: Tenant, desk: dict[str, Any], ids: str, action: str, error: Any) -> None:
    conversation_ids = [c.pk for c in desk["conversations"]] if ids == "desk" else list(range(1, MAX_CONVERSATIONS + 2))
    with pytest.raises(error):
        _bulk(tenant_a, conversation_ids, action)


# --- Routing side effects ------------------------------------------------------------------------


def test_closing_frees_the_agents_room_and_the_queue_drains_to_them(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko", capacity=2)
    held = [waiting(channel, assignee=aiko.user) for _ in range(2)]
    queued = waiting(channel, queued_at=timezone.now())
    with (
        mock.patch.object(routing_tasks.drain_agent, "delay", autospec=True, side_effect=routing_tasks.drain_agent),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = _bulk(tenant_a, [c.pk for c in held], "close", as_admin=True)
    assert result.changed == [c.pk for c in held]
    assert assignee_names([queued]) == ["Aiko"]
    assert Conversation.objects.get(pk=held[0].pk).queued_at is None


def test_reopening_unassigned_conversations_routes_them_in_one_task(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    channel = routing_channel(tenant_a)
    agent(tenant_a, channel, "Aiko")
    closed = [waiting(channel, state=ConversationState.CLOSED) for _ in range(3)]
    with (
        mock.patch.object(routing_tasks.route_conversations, "delay", autospec=True) as route,
        django_capture_on_commit_callbacks(execute=True),
    ):
        _bulk(tenant_a, [c.pk for c in closed], "reopen", as_admin=True)
    route.assert_called_once_with([c.pk for c in closed])


def test_assigning_beyond_capacity_is_made_and_warned(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko", capacity=1)
    conversations = [waiting(channel) for _ in range(2)]
    result = _bulk(tenant_a, [c.pk for c in conversations], "assign", as_admin=True, assignee_id=aiko.pk)
    assert result.changed == [c.pk for c in conversations]
    assert [(w.code, w.load, w.capacity) for w in result.warnings] == [("over_capacity", 2, 1)]
    assert "Aiko now holds 2 open conversations" in result.warnings[0].message


def test_unassigning_an_online_agents_conversations_drains_to_them_and_routes_again(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko")
    held = [waiting(channel, assignee=aiko.user) for _ in range(2)]
    with (
        mock.patch.object(routing_tasks.drain_agent, "delay", autospec=True) as drain,
        mock.patch.object(routing_tasks.route_conversations, "delay", autospec=True) as route,
        django_capture_on_commit_callbacks(execute=True),
    ):
        _bulk(tenant_a, [c.pk for c in held], "assign", as_admin=True, assignee_id=None)
    drain.assert_called_once_with(aiko.pk)
    route.assert_called_once_with([c.pk for c in held])


# --- Set-based ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["close", "assign", "label_add"])
def test_the_query_count_does_not_grow_with_the_number_of_conversations(tenant_a: Tenant, action: str) -> None:
    channel = routing_channel(tenant_a)
    aiko = agent(tenant_a, channel, "Aiko", capacity=100)
    label = Label.objects.create(organization=tenant_a.organization, name="VIP")
    extra = {"assign": {"assignee_id": aiko.pk}, "label_add": {"label_id": label.pk}}.get(action, {})
    # The endpoints that want the events (outgoing webhooks; none here) are read once, then kept.
    for event in (signals.CONVERSATION_CLOSED, signals.CONVERSATION_ASSIGNED):
        outgoing_services.endpoints_wanting(organization_id=tenant_a.organization.pk, type=event)
    counts = []
    for size in (10, 50):
        conversations = [waiting(channel, assignee=aiko.user if action == "close" else None) for _ in range(size)]
        with CaptureQueriesContext(connection) as captured:
            result = _bulk(tenant_a, [c.pk for c in conversations], action, as_admin=True, **extra)
        assert len(result.changed) == size
        counts.append(len(captured.captured_queries))
    # close: lock, UPDATE, INSERT of lines, the freed rooms (+ the savepoint's two), the read of
    # those whose channel asks for a rating (csat; none here);
    # assign adds the assignee, the channels they may hold, their load and capacity;
    # label_add: the label, the links it had, the INSERT of links (and the service's savepoint).
    assert counts == [{"close": 7, "assign": 9, "label_add": 9}[action]] * 2


# --- One rule for one conversation and for many ----------------------------------------------------


def test_the_single_actions_refuse_reopening_and_assigning_a_deleted_channels_conversation_too(
    tenant_a: Tenant, desk: dict[str, Any]
) -> None:
    aiko, _ben, chie = desk["conversations"]
    Channel.objects.filter(pk=desk["channel"].pk).update(deleted_at=timezone.now())
    aiko.refresh_from_db()
    chie.refresh_from_db()
    common = {"organization": tenant_a.organization, "acting_user": tenant_a.admin.user}
    with pytest.raises(ChannelDeleted):
        conversation_reopen(**common, conversation=chie)
    with pytest.raises(ChannelDeleted):
        conversation_assign(**common, conversation=aiko, assignee_membership_id=tenant_a.admin.pk)
    conversation_close(**common, conversation=aiko)
    assert _states([aiko, chie]) == ["closed", "closed"]
