"""Reads of the tickets app. Every read takes the organization and the member asking:
admins see all of the organization's tickets, agents those of their departments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from channels.models import Channel
from helpdesk.converters import parse_id
from helpdesk.exceptions import NotFound
from helpdesk.models import Department, Membership, Organization, Role
from messenger.models import Contact, Message, MessageKind
from tickets.models import Ticket


def as_id(value: int | str | None) -> int:
    """Ids from URLs and forms; anything that is not a whole number simply matches nothing."""
    return parse_id(value)


def _department_ids(membership: Membership) -> QuerySet[Department, Mapping[str, Any]]:
    """The member's departments as a subquery (no query of its own)."""
    return Department.objects.filter(memberships=membership).values("pk")


@dataclass(frozen=True)
class TicketFilters:
    department_id: int | None = None
    state: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    channel_id: int | None = None
    search: str = ""


def ticket_list(
    *, organization: Organization, membership: Membership, filters: TicketFilters | None = None
) -> QuerySet[Ticket]:
    """The tickets this member may see, newest first, with what a list shows joined in."""
    tickets = Ticket.objects.filter(organization=organization)
    if not membership.is_admin:
        tickets = tickets.filter(department_id__in=_department_ids(membership))
    if filters is not None:
        if filters.department_id is not None:
            tickets = tickets.filter(department_id=filters.department_id)
        if filters.state:
            tickets = tickets.filter(state=filters.state)
        if filters.unassigned:
            tickets = tickets.filter(assignee__isnull=True)
        elif filters.assignee_id is not None:
            tickets = tickets.filter(assignee_id=filters.assignee_id)
        if filters.channel_id is not None:
            tickets = tickets.filter(channel_id=filters.channel_id)
        search = filters.search.strip()
        if search:
            tickets = tickets.filter(
                Q(subject__icontains=search)
                | Q(description__icontains=search)
                | Q(contact__display_name__icontains=search)
            )
    return tickets.select_related("contact", "channel", "department", "assignee").order_by("-id")


def ticket_get(*, organization: Organization, membership: Membership, ticket_id: int | str) -> Ticket:
    """One ticket the member may see; 404 for another organization's or another department's."""
    ticket = (
        ticket_list(organization=organization, membership=membership)
        .select_related("created_by", "conversation")
        .filter(pk=as_id(ticket_id))
        .first()
    )
    if ticket is None:
        raise NotFound
    return ticket


def contact_get(*, organization: Organization, membership: Membership, contact_id: int | str) -> Contact:
    """A contact of the organization; for an agent, one they talk to in one of their departments."""
    contacts = Contact.objects.filter(organization=organization, pk=as_id(contact_id))
    if not membership.is_admin:
        contacts = contacts.filter(conversations__department_id__in=_department_ids(membership))
    contact = contacts.first()
    if contact is None:
        raise NotFound
    return contact


def contact_ticket_list(*, organization: Organization, membership: Membership, contact: Contact) -> QuerySet[Ticket]:
    return ticket_list(organization=organization, membership=membership).filter(contact=contact)


def ticket_filter_departments(*, organization: Organization, membership: Membership) -> QuerySet[Department]:
    departments = Department.objects.filter(organization=organization, deleted_at__isnull=True)
    if not membership.is_admin:
        departments = departments.filter(pk__in=_department_ids(membership))
    return departments.order_by("name")


def ticket_filter_channels(*, organization: Organization, membership: Membership) -> QuerySet[Channel]:
    """Channels of the member's departments, deleted ones included (their tickets remain)."""
    channels = Channel.objects.filter(organization=organization)
    if not membership.is_admin:
        channels = channels.filter(department_id__in=_department_ids(membership))
    return channels.order_by("name", "pk")


def ticket_assignee_choices(*, organization: Organization, department_id: int | None = None) -> QuerySet[Membership]:
    """Active members with their users; with a department, those who may hold its tickets."""
    members = Membership.objects.filter(organization=organization, is_active=True)
    if department_id is not None:
        members = members.filter(
            Q(role=Role.ADMIN) | Q(pk__in=Membership.objects.filter(departments=department_id).values("pk"))
        )
    return members.select_related("user").order_by("user__first_name", "user__last_name", "user__username")


def ticket_attachment_messages(*, organization: Organization, ticket: Ticket) -> QuerySet[Message]:
    """The ticket's messages (its range of the conversation) that carry attachments."""
    return (
        Message.objects.filter(
            organization=organization,
            conversation_id=ticket.conversation_id,
            id__gte=ticket.first_message_id,
            id__lte=ticket.last_message_id,
            kind=MessageKind.ATTACHMENT,
            is_hidden=False,
        )
        .only("id", "attachments", "sent_at", "direction")
        .order_by("sent_at", "id")
    )
