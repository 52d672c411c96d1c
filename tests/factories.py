"""Plain functions that build tenant data for tests (every row gets its organization)."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from channels.models import AgentChannel, Channel
from helpdesk.models import Department, Membership, Organization, Role
from messenger.crypto import encrypt_token
from messenger.models import (
    Contact,
    Conversation,
    Direction,
    FacebookPage,
    Message,
    MessageSource,
    MessageStatus,
)

_seq = itertools.count(1)

PASSWORD = "correct-horse-battery-staple"


def make_org(slug: str | None = None, **fields: Any) -> Organization:
    n = next(_seq)
    slug = slug or f"org{n}"
    return Organization.objects.create(name=fields.pop("name", slug.title()), slug=slug, **fields)


def make_department(organization: Organization, name: str | None = None) -> Department:
    return Department.objects.create(organization=organization, name=name or f"Department {next(_seq)}")


def make_member(
    organization: Organization,
    *,
    role: str = Role.AGENT,
    username: str | None = None,
    departments: list[Department] | None = None,
    **user_fields: Any,
) -> Membership:
    User = get_user_model()
    username = username or f"user{next(_seq)}"
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(username=username, password=PASSWORD, **user_fields)
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    if departments:
        membership.departments.set(departments)
    return membership


def make_channel(
    organization: Organization, department: Department | None = None, *, name: str | None = None, **fields: Any
) -> Channel:
    department = department or make_department(organization)
    return Channel.objects.create(
        organization=organization, department=department, name=name or f"Channel {next(_seq)}", **fields
    )


def associate(membership: Membership, channel: Channel) -> AgentChannel:
    return AgentChannel.objects.create(organization=membership.organization, membership=membership, channel=channel)


def make_page(
    channel: Channel, *, page_id: str | None = None, token: str = "page-token", **fields: Any
) -> FacebookPage:
    now = timezone.now()
    fields.setdefault("authorized_at", now)
    return FacebookPage.objects.create(
        organization=channel.organization,
        channel=channel,
        page_id=page_id or str(1_000_000_000 + next(_seq)),
        name=fields.pop("name", f"Page {next(_seq)}"),
        access_token_encrypted=encrypt_token(token),
        **fields,
    )


def make_contact(page: FacebookPage, *, psid: str | None = None, **fields: Any) -> Contact:
    return Contact.objects.create(
        organization=page.organization,
        page=page,
        psid=psid or str(9_000_000_000 + next(_seq)),
        display_name=fields.pop("display_name", f"Customer {next(_seq)}"),
        **fields,
    )


def make_conversation(page: FacebookPage, contact: Contact | None = None, **fields: Any) -> Conversation:
    contact = contact or make_contact(page)
    return Conversation.objects.create(
        organization=page.organization,
        channel=page.channel,
        department=page.channel.department,
        page=page,
        contact=contact,
        **fields,
    )


def make_message(
    conversation: Conversation,
    *,
    text: str = "Hello",
    direction: str = Direction.INBOUND,
    sent_at: datetime | None = None,
    **fields: Any,
) -> Message:
    sent_at = sent_at or timezone.now()
    inbound = direction == Direction.INBOUND
    message = Message.objects.create(
        organization=conversation.organization,
        conversation=conversation,
        page=conversation.page,
        mid=fields.pop("mid", f"m_{next(_seq)}"),
        direction=direction,
        source=fields.pop("source", MessageSource.CUSTOMER if inbound else MessageSource.AGENT),
        status=fields.pop("status", MessageStatus.RECEIVED if inbound else MessageStatus.SENT),
        text=text,
        sent_at=sent_at,
        **fields,
    )
    updates: dict[str, Any] = {"last_message_at": sent_at, "last_message_preview": text[:200]}
    if inbound:
        updates["last_inbound_at"] = sent_at
    Conversation.objects.filter(pk=conversation.pk).update(**updates)
    for key, value in updates.items():
        setattr(conversation, key, value)
    return message
