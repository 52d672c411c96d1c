"""Builders shared by the routing tests: a channel with assignment on, agents online with a
capacity, conversations waiting in it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from availability.models import Availability, Status
from channels.models import AssignmentMode, Channel
from helpdesk.models import Membership, Role
from messenger.models import Conversation, FacebookPage
from tests import factories
from tests.conftest import Tenant


def routing_channel(tenant: Tenant, mode: str = AssignmentMode.ROUND_ROBIN, **fields: Any) -> Channel:
    return factories.make_channel(tenant.organization, tenant.department, assignment_mode=mode, **fields)


def agent(
    tenant: Tenant,
    channel: Channel,
    name: str,
    *,
    status: str = Status.ONLINE,
    capacity: int | None = None,
    role: str = Role.AGENT,
) -> Membership:
    member = factories.make_member(
        tenant.organization,
        role=role,
        username=f"{tenant.organization.slug}-{name.lower()}",
        departments=[tenant.department],
        first_name=name,
    )
    factories.associate(member, channel)
    set_status(member, status, capacity=capacity)
    return member


def set_status(member: Membership, status: str, *, capacity: int | None = None, since: datetime | None = None) -> None:
    Availability.objects.update_or_create(
        membership=member,
        defaults={
            "organization": member.organization,
            "status": status,
            "status_since": since or timezone.now(),
            "capacity": capacity,
        },
    )


def page_of(channel: Channel) -> FacebookPage:
    page = channel.facebook_pages.first()
    return page if page is not None else factories.make_page(channel)


def waiting(channel: Channel, **fields: Any) -> Conversation:
    return factories.make_conversation(page_of(channel), **fields)


def assignee_names(conversations: list[Conversation]) -> list[str | None]:
    names = []
    for conversation in conversations:
        conversation.refresh_from_db()
        names.append(conversation.assignee.first_name if conversation.assignee else None)
    return names
