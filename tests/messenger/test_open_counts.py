"""The inbox's view counts come from the sums the database keeps (messenger.open_counts): they
must equal a count of the open conversations, whatever wrote the changes, before and after
the rows are folded, and when the triggers were lost and put back. On both databases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from helpdesk.models import Membership, Role
from messenger import open_counts
from messenger.models import Conversation, ConversationState, OpenConversationCount
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors.conversations import ConversationCounts
from messenger.selectors.visibility import visible_channel_filter
from tests import factories
from tests.conftest import Tenant


def _counted(membership: Membership) -> ConversationCounts:
    """The counts as a count of the open conversations the member sees (what the inbox
    counted at every poll before the sums were kept)."""
    organization = membership.organization
    counts = (
        Conversation.objects.filter(visible_channel_filter(organization=organization, membership=membership))
        .filter(state=ConversationState.OPEN)
        .aggregate(
            mine=Count("pk", filter=Q(assignee_id=membership.user_id)),
            unassigned=Count("pk", filter=Q(assignee__isnull=True)),
            all=Count("pk"),
        )
    )
    return ConversationCounts(**counts)


def _kept(membership: Membership) -> ConversationCounts:
    return conversation_selectors.conversation_counts(organization=membership.organization, membership=membership)


@dataclass
class World:
    members: list[Membership]
    pages: list[Any]


@pytest.fixture
def world(tenant_a: Tenant, tenant_b: Tenant) -> World:
    """Three channels of alpha (the agent sees two, one of them in a department they do not
    work in: not counted), one of bravo; a second agent of alpha who sees the third."""
    sales = factories.make_department(tenant_a.organization, "Sales")
    channels = [
        factories.make_channel(tenant_a.organization, tenant_a.department),
        factories.make_channel(tenant_a.organization, tenant_a.department),
        factories.make_channel(tenant_a.organization, sales),
        factories.make_channel(tenant_b.organization, tenant_b.department),
    ]
    factories.associate(tenant_a.agent, channels[0])
    factories.associate(tenant_a.agent, channels[2])
    other = factories.make_member(
        tenant_a.organization, role=Role.AGENT, username="alpha-other", departments=[tenant_a.department, sales]
    )
    factories.associate(other, channels[1])
    factories.associate(other, channels[2])
    factories.associate(tenant_b.agent, channels[3])
    return World(
        members=[tenant_a.admin, tenant_a.agent, other, tenant_b.admin, tenant_b.agent],
        pages=[factories.make_page(channel) for channel in channels],
    )


def _assert_agree(world: World) -> None:
    for membership in world.members:
        assert _kept(membership) == _counted(membership), membership.user.username


# Each operation: (name, conversation index, argument index).
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["create", "close", "reopen", "assign", "unassign", "forward", "delete", "update_many", "save", "fold"]
        ),
        st.integers(min_value=0, max_value=30),
        st.integers(min_value=0, max_value=30),
    ),
    min_size=1,
    max_size=40,
)


def _apply(world: World, conversations: list[Conversation], step: tuple[str, int, int]) -> None:
    name, which, argument = step
    users = [member.user for member in world.members[:3]]
    if name == "create" or not conversations:
        page = world.pages[which % len(world.pages)]
        state = ConversationState.CLOSED if argument % 4 == 0 else ConversationState.OPEN
        alpha = page.organization_id == world.members[0].organization_id
        assignee = users[argument % 3] if argument % 2 and alpha else None
        conversations.append(factories.make_conversation(page, state=state, assignee=assignee))
        return
    conversation = conversations[which % len(conversations)]
    same_organization = [page for page in world.pages if page.organization_id == conversation.organization_id]
    match name:
        case "close" | "reopen":
            state = ConversationState.CLOSED if name == "close" else ConversationState.OPEN
            Conversation.objects.filter(pk=conversation.pk).update(state=state)
        case "assign" if conversation.organization_id == world.members[0].organization_id:
            Conversation.objects.filter(pk=conversation.pk).update(assignee=users[argument % 3])
        case "unassign":
            Conversation.objects.filter(pk=conversation.pk).update(assignee=None)
        case "forward":
            page = same_organization[argument % len(same_organization)]
            Conversation.objects.filter(pk=conversation.pk).update(channel_id=page.channel_id)
        case "delete":
            Conversation.objects.filter(pk=conversation.pk).delete()
            conversations.remove(conversation)
        case "update_many":
            # One statement over many rows, in both directions at once.
            Conversation.objects.filter(pk__in=[c.pk for c in conversations[::2]]).update(
                state=ConversationState.OPEN if argument % 2 else ConversationState.CLOSED
            )
        case "save":
            # A model's save writes every column: only a change of a counted one counts.
            conversation.refresh_from_db()
            conversation.last_message_preview = f"text {argument}"
            conversation.save()
        case "fold":
            open_counts.fold()


@pytest.mark.django_db(transaction=False)
def test_the_kept_counts_equal_a_count_of_the_open_conversations_whatever_wrote_the_changes(world: World) -> None:
    @hypothesis_settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(steps=OPERATIONS)
    def agree(steps: list[tuple[str, int, int]]) -> None:
        note(f"steps: {steps}")
        with transaction.atomic():
            conversations: list[Conversation] = []
            for step in steps:
                _apply(world, conversations, step)
            _assert_agree(world)
            open_counts.fold()
            _assert_agree(world)
            transaction.set_rollback(True)

    agree()


def test_folding_leaves_one_row_per_channel_and_assignee_and_drops_the_empty_ones(
    tenant_a: Tenant, world: World
) -> None:
    page = world.pages[0]
    kept = [factories.make_conversation(page) for _ in range(3)]
    gone = factories.make_conversation(world.pages[1])
    Conversation.objects.filter(pk=gone.pk).update(state=ConversationState.CLOSED)
    Conversation.objects.filter(pk=kept[0].pk).update(assignee=tenant_a.agent.user)
    before = {member.pk: _kept(member) for member in world.members}

    assert open_counts.fold() == 7  # 3 + 1 created, 1 closed, 2 for the assignment

    rows = set(OpenConversationCount.objects.values_list("channel_id", "assignee_id", "delta"))
    assert rows == {(page.channel_id, None, 2), (page.channel_id, tenant_a.agent.user_id, 1)}
    assert {member.pk: _kept(member) for member in world.members} == before
    assert open_counts.fold() == 2
    assert OpenConversationCount.objects.count() == 2


def test_an_admin_an_agent_and_an_inactive_member_each_count_what_they_see(tenant_a: Tenant, world: World) -> None:
    factories.make_conversation(world.pages[0], assignee=tenant_a.agent.user)
    factories.make_conversation(world.pages[0])
    factories.make_conversation(world.pages[1])
    factories.make_conversation(world.pages[2])  # the agent's channel in another department
    factories.make_conversation(world.pages[3])  # another organization's
    factories.make_conversation(world.pages[0], state=ConversationState.CLOSED)

    assert _kept(tenant_a.admin) == ConversationCounts(mine=0, unassigned=3, all=4)
    assert _kept(tenant_a.agent) == ConversationCounts(mine=1, unassigned=1, all=2)
    tenant_a.agent.is_active = False
    assert _kept(tenant_a.agent) == ConversationCounts(mine=0, unassigned=0, all=0)


def test_triggers_lost_with_their_table_are_put_back_and_the_counts_rebuilt(tenant_a: Tenant, world: World) -> None:
    """SQLite drops a table's triggers when a migration rebuilds the table: the next migrate
    puts them back and counts afresh what changed meanwhile."""
    factories.make_conversation(world.pages[0])
    with connection.cursor() as cursor:
        for name in open_counts._triggers():
            cursor.execute(
                f'DROP TRIGGER "{name}"'
                + (f" ON {open_counts.CONVERSATIONS}" if connection.vendor == "postgresql" else "")
            )
    factories.make_conversation(world.pages[0])  # not counted: no trigger
    assert _kept(tenant_a.admin).all == 1

    assert open_counts.triggers_ensure() is True

    assert _kept(tenant_a.admin) == _counted(tenant_a.admin) == ConversationCounts(mine=0, unassigned=2, all=2)
    factories.make_conversation(world.pages[1])
    assert _kept(tenant_a.admin).all == 3
    assert open_counts.triggers_ensure() is False


def test_a_rebuild_counts_what_a_load_past_the_triggers_left_out(tenant_a: Tenant, world: World) -> None:
    for _ in range(2):
        factories.make_conversation(world.pages[0])
    OpenConversationCount.objects.all().delete()
    assert _kept(tenant_a.admin).all == 0

    open_counts.rebuild()

    assert _kept(tenant_a.admin) == _counted(tenant_a.admin) == ConversationCounts(mine=0, unassigned=2, all=2)


def test_the_rows_are_folded_every_minute() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["messenger-open-counts-fold"]
    assert (entry["task"], entry["schedule"]) == ("messenger.counts.fold", 60.0)


@pytest.mark.django_db(transaction=True)
def test_going_back_before_the_counts_drops_their_triggers_and_migrating_again_puts_them_back(
    tenant_a: Tenant, world: World
) -> None:
    from django.core.management import call_command

    call_command("migrate", "messenger", "0024", verbosity=0)
    try:
        with connection.cursor() as cursor:
            assert open_counts._installed(cursor) == set()
        # Without the table, conversations are still written (no trigger writes to it).
        factories.make_conversation(world.pages[0])
    finally:
        call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        assert open_counts._installed(cursor) == set(open_counts._triggers())
    assert _kept(tenant_a.admin) == _counted(tenant_a.admin) == ConversationCounts(mine=0, unassigned=1, all=1)


@pytest.mark.postgres
@pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql", reason="PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_rebuilds_at_once_take_turns_instead_of_each_keeping_its_own_counts(tenant_a: Tenant, world: World) -> None:
    import threading

    for _ in range(3):
        factories.make_conversation(world.pages[0])
    started, release = threading.Event(), threading.Event()

    def first_rebuild() -> None:
        try:
            with transaction.atomic():
                open_counts.rebuild()
                started.set()
                release.wait(5)
        finally:
            connection.close()

    thread = threading.Thread(target=first_rebuild)
    thread.start()
    assert started.wait(5)
    # The second waits for the first to commit, then replaces what it wrote (not beside it).
    threading.Timer(0.3, release.set).start()
    open_counts.rebuild()
    thread.join(5)
    assert _kept(tenant_a.admin) == _counted(tenant_a.admin) == ConversationCounts(mine=0, unassigned=3, all=3)
