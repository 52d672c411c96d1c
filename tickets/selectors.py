"""Reads of the tickets app. Every read takes the organization and the member asking and
applies the one visibility rule (channels.visibility): admins see all of the organization's
tickets; an agent those of the channels they see (associated with, in a department they work
in) whose own department is also one of theirs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from channels import visibility
from channels.models import Channel
from helpdesk.converters import parse_id
from helpdesk.exceptions import NotFound
from helpdesk.models import Department, Membership, Organization
from labels import links as label_links
from labels.models import Label
from messenger.models import Contact, Message, MessageKind
from messenger.selectors import messages as message_selectors
from messenger.selectors import visibility as visibility_selectors
from messenger.selectors.messages import MessageRange
from sla.state import SlaStatus
from sla.state import status_filter as sla_status_filter
from tickets.models import ACTIVE_STATES, Ticket, TicketEvent, TicketLabel


def as_id(value: int | str | None) -> int:
    """Ids from URLs and forms; anything that is not a whole number simply matches nothing."""
    return parse_id(value)


@dataclass(frozen=True)
class TicketFilters:
    department_id: int | None = None
    state: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    channel_id: int | None = None
    search: str = ""
    # Tickets with every one of these labels.
    label_ids: tuple[int, ...] = ()
    # Active tickets whose resolution target is in this SLA state now.
    sla: SlaStatus | None = None


def ticket_list(
    *, organization: Organization, membership: Membership, filters: TicketFilters | None = None
) -> QuerySet[Ticket]:
    """The tickets this member may see, newest first, with what a list shows joined in."""
    tickets = Ticket.objects.filter(
        visibility.visible_filter(organization=organization, membership=membership, row_department=True)
    )
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
        for label_id in filters.label_ids:
            # One semi-join per label on the (organization, label, ticket) index: all must be there.
            tickets = tickets.filter(
                pk__in=TicketLabel.objects.filter(organization=organization, label_id=label_id).values("ticket_id")
            )
        if filters.sla is not None:
            tickets = tickets.filter(sla_filter(filters.sla, now=timezone.now()))
        search = filters.search.strip()
        if search:
            tickets = tickets.filter(
                Q(subject__icontains=search)
                | Q(description__icontains=search)
                | Q(contact__display_name__icontains=search)
            )
    return tickets.select_related("contact", "channel", "department", "assignee").order_by("-id")


def sla_filter(status: SlaStatus, *, now: datetime) -> Q:
    """Open or pending tickets whose resolution target is in this SLA state at ``now`` (the
    rule of Ticket.resolution_sla, in SQL)."""
    running = Q(state__in=sorted(ACTIVE_STATES), sla_started_at__isnull=False)
    return running & sla_status_filter(status, now=now, due="sla_due_at", warn="sla_warn_at")


def ticket_get(*, organization: Organization, membership: Membership, ticket_id: int | str) -> Ticket:
    """One ticket the member may see; 404 for any other (another organization's, or of a
    channel or department the member does not see)."""
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
    """A contact the member sees (one of their conversations is visible), or NotFound."""
    return visibility_selectors.contact_get(organization=organization, membership=membership, contact_id=contact_id)


def contact_ticket_list(*, organization: Organization, membership: Membership, contact: Contact) -> QuerySet[Ticket]:
    return ticket_list(organization=organization, membership=membership).filter(contact=contact)


def ticket_filter_departments(*, organization: Organization, membership: Membership) -> QuerySet[Department]:
    departments = Department.objects.filter(organization=organization, deleted_at__isnull=True)
    if not membership.is_admin:
        departments = departments.filter(pk__in=visibility.member_department_ids(membership))
    return departments.order_by("name")


def ticket_filter_channels(*, organization: Organization, membership: Membership) -> QuerySet[Channel]:
    """The channels the member sees, deleted ones included (their tickets remain)."""
    return visibility.visible_channel_list(organization=organization, membership=membership).order_by("name", "pk")


def ticket_assignee_choices(*, organization: Organization, ticket: Ticket | None = None) -> QuerySet[Membership]:
    """Active members with their users; with a ticket, those who see it (and so may hold it)."""
    if ticket is None:
        members = Membership.objects.filter(organization=organization, is_active=True)
    else:
        members = Membership.objects.filter(
            visibility.members_filter(
                organization=organization, channel_id=ticket.channel_id, department_id=ticket.department_id
            )
        )
    return members.select_related("user").order_by("user__first_name", "user__last_name", "user__username")


def ticket_attachment_messages(*, organization: Organization, ticket: Ticket) -> QuerySet[Message]:
    """The ticket's messages (its part of the conversation) that carry attachments."""
    return (
        Message.objects.filter(
            message_selectors.message_range_filter(ticket_part(ticket=ticket)),
            organization=organization,
            conversation_id=ticket.conversation_id,
            kind=MessageKind.ATTACHMENT,
            is_hidden=False,
        )
        .only("id", "attachments", "sent_at", "direction")
        .order_by("sent_at", "id")
    )


def ticket_part(*, ticket: Ticket) -> MessageRange:
    """The ticket's part of its conversation. A resolved or closed ticket ends at its
    `last_message`; an active one takes every later message, up to where a later ticket of
    the conversation begins (one that was reopened after a follow-up was made)."""
    if not ticket.is_active:
        return MessageRange(ticket.first_message_id, ticket.last_message_id)
    next_first = (
        Ticket.objects.filter(conversation_id=ticket.conversation_id, pk__gt=ticket.pk)
        .order_by("pk")
        .values_list("first_message_id", flat=True)
        .first()
    )
    return MessageRange(ticket.first_message_id, next_first - 1 if next_first is not None else None)


def ticket_message_list(
    *, organization: Organization, membership: Membership, ticket_id: int | str
) -> QuerySet[Message]:
    """The visible messages of a ticket the member may see (its part of the conversation), or
    NotFound: the same rule as the ticket itself."""
    ticket = ticket_get(organization=organization, membership=membership, ticket_id=ticket_id)
    return message_selectors.message_list(organization=organization, conversation=ticket.conversation).filter(
        message_selectors.message_range_filter(ticket_part(ticket=ticket))
    )


def ticket_event_list(*, organization: Organization, ticket: Ticket) -> QuerySet[TicketEvent]:
    return (
        TicketEvent.objects.filter(organization=organization, ticket=ticket)
        .select_related("actor")
        .order_by("created_at", "id")
    )


def with_labels(tickets: list[Ticket]) -> None:
    """Sets ``label_list`` (its labels, by name) on each ticket of a page: one query whatever
    the page's size, none for an empty page."""
    if not tickets:
        return
    by_ticket = label_links.labels_by_owner(
        TicketLabel, "ticket", organization_id=tickets[0].organization_id, owner_ids=[t.pk for t in tickets]
    )
    for ticket in tickets:
        ticket.label_list = by_ticket[ticket.pk]  # type: ignore[attr-defined]


def ticket_label_list(*, organization: Organization, ticket: Ticket) -> list[Label]:
    """The ticket's labels, by name (the ticket is one the caller may see)."""
    cached = getattr(ticket, "label_list", None)
    if cached is not None:
        return list(cached)
    return list(
        Label.objects.filter(
            organization=organization,
            pk__in=TicketLabel.objects.filter(organization=organization, ticket=ticket).values("label_id"),
        ).order_by("name", "id")
    )
