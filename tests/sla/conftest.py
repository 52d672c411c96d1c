"""Fixtures of the SLA tests: organization A (Asia/Tokyo) with a channel, a page, and helpers
to make waiting conversations and tickets at chosen instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from channels.models import BusinessHours, BusinessInterval, Channel, Holiday
from messenger.models import Conversation, FacebookPage
from sla.models import SlaClock, SlaPolicy
from tests import factories
from tests.conftest import Tenant
from tickets.models import Ticket, TicketOrigin

TOKYO = ZoneInfo("Asia/Tokyo")


def tokyo(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Desk:
    tenant: Tenant
    channel: Channel
    page: FacebookPage

    def waiting(self, since: datetime, *, name: str = "Hanako Yamada", **fields: Any) -> Conversation:
        contact = factories.make_contact(self.page, display_name=name)
        return factories.make_conversation(self.page, contact, waiting_since=since, last_inbound_at=since, **fields)

    def ticket(self, created_at: datetime, **fields: Any) -> Ticket:
        fields.setdefault("subject", "My order")
        conversation = self.waiting(created_at, name=f"Customer of {fields['subject']}")
        message = factories.make_message(conversation, text="My order", sent_at=created_at)
        return Ticket.objects.create(
            organization=conversation.organization,
            department=conversation.department,
            channel=conversation.channel,
            conversation=conversation,
            contact=conversation.contact,
            origin=TicketOrigin.MANUAL,
            first_message=message,
            last_message=message,
            created_at=created_at,
            **fields,
        )

    def policy(self, *, clock: str = SlaClock.WALL_CLOCK, channel: Channel | None = None, **minutes: int) -> SlaPolicy:
        return SlaPolicy.objects.create(
            organization=self.tenant.organization,
            department=self.tenant.department,
            channel=channel,
            clock=clock,
            **minutes,
        )

    def office_hours(self, *, holidays: tuple[date, ...] = ()) -> None:
        """Monday to Friday, 09:00 to 18:00 (Asia/Tokyo), closed on these holidays."""
        organization = self.tenant.organization
        hours = BusinessHours.objects.create(
            organization=organization, department=self.tenant.department, is_enabled=True
        )
        for weekday in range(5):
            BusinessInterval.objects.create(
                organization=organization, business_hours=hours, weekday=weekday, start_minute=540, end_minute=1080
            )
        for day in holidays:
            Holiday.objects.create(organization=organization, business_hours=hours, date=day)


@pytest.fixture
def desk(tenant_a: Tenant) -> Desk:
    tenant_a.organization.time_zone = "Asia/Tokyo"
    tenant_a.organization.save(update_fields=["time_zone"])
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Facebook")
    factories.associate(tenant_a.agent, channel)
    return Desk(tenant_a, channel, factories.make_page(channel, name="Alpha page"))
