"""Fixtures of the ticket tests: organization A's channel, page and a customer's conversation,
and a fixed clock to travel from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from channels.models import Channel, DepartmentSettings
from messenger.models import Conversation, Direction, FacebookPage, Message
from tests import factories
from tests.conftest import Tenant

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """These tests are about tickets, not logins: hash the fixtures' passwords cheaply."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@dataclass
class Desk:
    tenant: Tenant
    channel: Channel
    page: FacebookPage
    conversation: Conversation

    def say(self, text: str, at: datetime, *, conversation: Conversation | None = None, **fields: Any) -> Message:
        return factories.make_message(conversation or self.conversation, text=text, sent_at=at, **fields)

    def reply(self, text: str, at: datetime, **fields: Any) -> Message:
        fields.setdefault("author", self.tenant.agent.user)
        return self.say(text, at, direction=Direction.OUTBOUND, **fields)

    def new_conversation(self, **contact_fields: Any) -> Conversation:
        return factories.make_conversation(self.page, factories.make_contact(self.page, **contact_fields))


@pytest.fixture
def desk(tenant_a: Tenant) -> Desk:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Facebook")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, name="Alpha page")
    conversation = factories.make_conversation(page, factories.make_contact(page, display_name="Hanako Yamada"))
    return Desk(tenant_a, channel, page, conversation)


def set_delay(tenant: Tenant, delay_minutes: int) -> None:
    DepartmentSettings.objects.update_or_create(
        department=tenant.department,
        defaults={"organization": tenant.organization, "ticket_delay_minutes": delay_minutes},
    )


def make_ticket(desk: Desk, text: str = "Hello", *, conversation: Conversation | None = None, **contact: Any) -> Any:
    """A ticket made the way an agent makes one: a customer message, then conversion by hand."""
    from tickets.services import ticket_create_from_conversation

    conversation = conversation or (desk.new_conversation(**contact) if contact else desk.conversation)
    desk.say(text, T0, conversation=conversation)
    return ticket_create_from_conversation(
        organization=desk.tenant.organization,
        acting_user=desk.tenant.admin.user,
        membership=desk.tenant.admin,
        conversation_id=conversation.pk,
    )


def resolve_ticket(desk: Desk, ticket: Any) -> Any:
    """The agent resolves the ticket: what the customer writes next begins a new part."""
    from tickets.services import ticket_update

    return ticket_update(
        organization=desk.tenant.organization,
        acting_user=desk.tenant.admin.user,
        membership=desk.tenant.admin,
        ticket_id=ticket.pk,
        state="resolved",
    )
