"""The one visibility rule (channels.visibility): who sees what is filed under a channel."""

from __future__ import annotations

from typing import Any

import pytest

from channels import services, visibility
from channels.models import Channel
from helpdesk.models import Membership, Role
from messenger.models import Conversation, Message
from messenger.selectors import messages as message_selectors
from messenger.selectors import visibility as visibility_selectors
from tests import factories
from tests.conftest import Tenant
from tickets import selectors as ticket_selectors
from tickets.models import Ticket
from tickets.services import ticket_create_from_conversation

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def cast(tenant_a: Tenant, tenant_b: Tenant) -> dict[str, Any]:
    """Channel `chat` of Support with a conversation, and members who are every case of the rule."""
    organization, support = tenant_a.organization, tenant_a.department
    sales = factories.make_department(organization, "Sales")
    chat = factories.make_channel(organization, support, name="Chat")
    other = factories.make_channel(organization, sales, name="Other")
    conversation = factories.make_conversation(factories.make_page(chat))
    factories.make_message(conversation, text="hello")

    def member(name: str, *, departments: list[Any], channels: list[Channel], **fields: Any) -> Membership:
        membership = factories.make_member(organization, username=name, departments=departments, **fields)
        for channel in channels:
            factories.associate(membership, channel)
        return membership

    members = {
        "associated in the department": member("a1", departments=[support], channels=[chat]),
        "in the department, not associated": member("a2", departments=[support], channels=[]),
        "associated, out of the department": member("a3", departments=[sales], channels=[chat, other]),
        "associated in the department, inactive": member("a4", departments=[support], channels=[chat], is_active=False),
        "admin": tenant_a.admin,
        "admin, inactive": member("a5", departments=[], channels=[], role=Role.ADMIN, is_active=False),
        "admin of another organization": tenant_b.admin,
    }
    for name in ("associated in the department, inactive", "admin, inactive"):
        members[name].is_active = False
        members[name].save(update_fields=["is_active"])
    return {"tenant": tenant_a, "chat": chat, "other": other, "conversation": conversation, "members": members}


SEES_CHAT = {"associated in the department", "admin"}


def test_only_associated_agents_of_the_department_and_admins_see_a_channels_conversations(
    cast: dict[str, Any],
) -> None:
    organization = cast["tenant"].organization
    seeing = {
        name
        for name, membership in cast["members"].items()
        if Conversation.objects.filter(visibility.visible_filter(organization=organization, membership=membership))
        .filter(pk=cast["conversation"].pk)
        .exists()
    }
    assert seeing == SEES_CHAT


def test_messages_and_contacts_follow_their_conversation(cast: dict[str, Any]) -> None:
    organization, conversation = cast["tenant"].organization, cast["conversation"]
    for name, membership in cast["members"].items():
        messages = message_selectors.message_visible_list(organization=organization, membership=membership)
        contacts = conversation.contact.__class__.objects.filter(
            visibility_selectors.contact_visible_filter(organization=organization, membership=membership)
        )
        expected = name in SEES_CHAT
        assert messages.filter(conversation=conversation).exists() == expected, name
        assert contacts.filter(pk=conversation.contact_id).exists() == expected, name


def test_who_may_hold_a_channels_conversations_is_who_sees_them(cast: dict[str, Any]) -> None:
    """The rule read both ways agrees, for every member and channel."""
    organization = cast["tenant"].organization
    for channel in (cast["chat"], cast["other"]):
        holders = set(
            Membership.objects.filter(
                visibility.members_filter(organization=organization, channel_id=channel.pk)
            ).values_list("pk", flat=True)
        )
        for name, membership in cast["members"].items():
            visible = visibility.visible_channel_list(organization=organization, membership=membership)
            assert (membership.pk in holders) == visible.filter(pk=channel.pk).exists(), (name, channel.name)


def test_the_rule_is_a_filter_that_costs_no_query_of_its_own(
    cast: dict[str, Any], django_assert_num_queries: Any
) -> None:
    organization = cast["tenant"].organization
    agent = cast["members"]["associated in the department"]
    with django_assert_num_queries(0):
        for_tickets = visibility.visible_filter(organization=organization, membership=agent, row_department=True)
        for_messages = visibility.visible_filter(organization=organization, membership=agent, prefix="conversation__")
    with django_assert_num_queries(2):
        assert not list(Ticket.objects.filter(for_tickets))
        assert len(list(Message.objects.filter(for_messages))) == 1


def test_a_ticket_made_before_its_channel_moved_is_seen_by_those_who_work_in_both_departments(
    cast: dict[str, Any],
) -> None:
    tenant, chat = cast["tenant"], cast["chat"]
    organization, support = tenant.organization, tenant.department
    sales = cast["other"].department
    ticket = ticket_create_from_conversation(
        organization=organization,
        acting_user=tenant.admin.user,
        membership=tenant.admin,
        conversation_id=cast["conversation"].pk,
    )
    both = factories.make_member(organization, username="both", departments=[support, sales])
    factories.associate(both, chat)
    services.channel_update(
        organization=organization, acting_user=tenant.admin.user, channel=chat, department_id=sales.pk
    )
    sales_agent = factories.make_member(organization, username="sales-only", departments=[sales])
    services.channel_agents_set(
        organization=organization,
        acting_user=tenant.admin.user,
        channel=chat,
        membership_ids=[both.pk, sales_agent.pk],
    )

    def sees(membership: Membership) -> bool:
        return (
            ticket_selectors.ticket_list(organization=organization, membership=membership).filter(pk=ticket.pk).exists()
        )

    # The ticket stays in Support; the channel is now Sales'.
    assert sees(both) and sees(tenant.admin)
    assert not sees(sales_agent)  # answers the channel, but the ticket is Support's
    assert not sees(cast["members"]["associated in the department"])  # Support, no longer on the channel
    # And they are exactly those the ticket may be given to.
    holders = ticket_selectors.ticket_assignee_choices(organization=organization, ticket=ticket)
    assert set(holders.values_list("pk", flat=True)) == {both.pk, tenant.admin.pk}


def test_every_form_of_the_rule_names_the_same_channels(cast: dict[str, Any]) -> None:
    """The channels a member sees, as a list to read, as the filter on conversations (its
    subquery written as SQL) and as the filter on plain channel ids agree, for every member."""
    organization = cast["tenant"].organization
    all_channels = set(Channel.objects.filter(organization=organization).values_list("pk", flat=True))
    for name, membership in cast["members"].items():
        listed = set(
            visibility.visible_channel_list(organization=organization, membership=membership).values_list(
                "pk", flat=True
            )
        )
        ids = visibility.visible_channel_ids(organization=organization, membership=membership)
        read = all_channels if ids is None else set(ids.values_list("channel_id", flat=True))
        by_id = set(
            Channel.objects.filter(organization=organization)
            .filter(visibility.visible_channel_id_filter(organization=organization, membership=membership, field="pk"))
            .values_list("pk", flat=True)
        )
        filed = set(
            Conversation.objects.filter(
                visibility.visible_filter(organization=organization, membership=membership)
            ).values_list("channel_id", flat=True)
        )
        assert listed == read == by_id, name
        assert filed == listed & {cast["conversation"].channel_id}, name
    seen = {
        name
        for name, m in cast["members"].items()
        if cast["chat"].pk
        in set(
            Channel.objects.filter(
                visibility.visible_channel_id_filter(organization=organization, membership=m, field="pk")
            ).values_list("pk", flat=True)
        )
    }
    assert seen == SEES_CHAT
