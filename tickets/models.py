"""Tickets: what a Messenger chat becomes once it has gone quiet (or when an agent says so).

A ticket is its part of the conversation's thread: from `first_message` (the first customer
message after the previous ticket) onwards. While the ticket is active (open or pending) every
message that arrives belongs to it, and a conversation has at most one active ticket (a partial
unique index). Resolving or closing it fixes `last_message` at the conversation's newest message:
what the customer writes next begins a new part, which the idle sweep makes a new ticket, a
follow-up of this one.

A conversation's high-water mark is the `last_message` of its latest ticket (an index makes it
one probe): every conversion reads it under the conversation's row lock and covers only the
messages above it, so a message is never part of two tickets, and the unique (conversation,
first message) constraint refuses a second ticket over the same messages should two conversions
ever meet.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels.models import Channel
from helpdesk.models import Department, Organization
from labels.models import Label
from messenger.models import Contact, Conversation, Message
from sla.models import SlaTarget
from sla.state import SlaState, sla_state


class TicketState(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


# The states in which a ticket still takes the conversation's new messages; a conversation has
# at most one ticket in them.
ACTIVE_STATES: frozenset[str] = frozenset({TicketState.OPEN, TicketState.PENDING})


# The state machine: every change not listed here is refused (helpdesk.exceptions.InvalidTransition).
# A closed ticket only comes back by being reopened.
TICKET_TRANSITIONS: dict[str, frozenset[str]] = {
    TicketState.OPEN: frozenset({TicketState.PENDING, TicketState.RESOLVED}),
    TicketState.PENDING: frozenset({TicketState.OPEN, TicketState.RESOLVED}),
    TicketState.RESOLVED: frozenset({TicketState.OPEN, TicketState.CLOSED}),
    TicketState.CLOSED: frozenset({TicketState.OPEN}),
}


class TicketPriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


# The subject's column width: what an agent may write (a subject taken from the customer's
# words is cut shorter, tickets.transcript.SUBJECT_MAX_LENGTH).
SUBJECT_MAX_LENGTH = 200


class TicketOrigin(models.TextChoices):
    IDLE = "idle", _("Automatically, after the chat went idle")
    MANUAL = "manual", _("By hand")


class Ticket(models.Model):
    # Foreign keys that the composite indexes below already lead to carry no index of their own
    # (the sweep writes thousands of tickets a minute; every index is paid for on each one).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    # The department of the conversation when the ticket was made (who sees the ticket).
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+", db_index=False)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="tickets")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="tickets", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="tickets", db_index=False)
    subject = models.CharField(_("subject"), max_length=SUBJECT_MAX_LENGTH)
    description = models.TextField(_("description"), blank=True)
    state = models.CharField(_("state"), max_length=10, choices=TicketState.choices, default=TicketState.OPEN)
    priority = models.CharField(
        _("priority"), max_length=10, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    origin = models.CharField(max_length=10, choices=TicketOrigin.choices)
    # Who converted the chat by hand (empty for the idle sweep).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # The messages covered: the conversation's visible ones with first_message_id <= id <=
    # last_message_id. An id range into the conversation rather than enforced keys: messages
    # go only with their conversation, which takes its tickets along.
    first_message = models.ForeignKey(
        Message, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    last_message = models.ForeignKey(
        Message, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    message_count = models.PositiveIntegerField(default=0)
    # The ticket of the conversation's previous part, when there was one ("follow-up of #1").
    follow_up_of = models.ForeignKey(
        "self",
        verbose_name=_("follow-up of"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # The SLA's resolution target, counted from `created_at` and kept by its sweep
    # (tickets.services_sla); `sla_started_at` None: not yet timed.
    sla_started_at = models.DateTimeField(null=True, blank=True)
    sla_warn_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_warned_at = models.DateTimeField(null=True, blank=True)
    sla_breached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # The database's own guard against two workers converting the same messages.
            models.UniqueConstraint(
                fields=["organization", "conversation", "first_message"], name="ticket_messages_covered_once"
            ),
            models.CheckConstraint(
                condition=models.Q(first_message__lte=models.F("last_message")), name="ticket_message_range_ordered"
            ),
            # At most one active ticket per conversation, whoever converts (by hand, the sweep).
            models.UniqueConstraint(
                fields=["organization", "conversation"],
                condition=models.Q(state__in=sorted(ACTIVE_STATES)),
                name="ticket_one_active_per_conversation",
            ),
        ]
        indexes = [
            # The high-water mark: the conversation's latest covered message (also serves the
            # conversation's foreign key, hence not led by the organization).
            models.Index(fields=["conversation", "last_message"], name="ticket_conversation_mark"),
            models.Index(fields=["organization", "department", "-id"], name="ticket_org_department"),
            models.Index(fields=["organization", "state", "-id"], name="ticket_org_state"),
            models.Index(fields=["organization", "assignee", "-id"], name="ticket_org_assignee"),
            models.Index(fields=["organization", "contact", "-id"], name="ticket_org_contact"),
            # The SLA sweep's work: active tickets not yet timed (rows leave it once timed).
            models.Index(
                fields=["id"],
                condition=models.Q(sla_started_at__isnull=True, state__in=sorted(ACTIVE_STATES)),
                name="ticket_sla_untimed",
            ),
            # ... and active tickets whose resolution target still has a warning or breach ahead.
            models.Index(
                fields=["sla_warn_at"],
                condition=models.Q(sla_breached_at__isnull=True, state__in=sorted(ACTIVE_STATES)),
                name="ticket_sla_running",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    def resolution_sla(self, *, now: datetime | None = None) -> SlaState | None:
        """The SLA state of the resolution target while the ticket is open or pending."""
        if not self.is_active or self.sla_started_at is None:
            return None
        return sla_state(
            target=SlaTarget.RESOLUTION, due_at=self.sla_due_at, warn_at=self.sla_warn_at, now=now or timezone.now()
        )

    @property
    def is_active(self) -> bool:
        """Open or pending: the conversation's new messages belong to it."""
        return self.state in ACTIVE_STATES

    @property
    def allowed_states(self) -> list[str]:
        """The states this ticket may move to, in the order of TicketState."""
        allowed = TICKET_TRANSITIONS.get(self.state, frozenset())
        return [state for state in TicketState.values if state in allowed]


class TicketEvent(models.Model):
    """Something that happened to a ticket, stored as a code with its parameters (names as they
    were at the time) and put into words in the reader's language when shown
    (tickets.events.describe)."""

    class Kind(models.TextChoices):
        STATE_CHANGED = "state_changed", _("State changed")
        PRIORITY_CHANGED = "priority_changed", _("Priority changed")
        ASSIGNED = "assigned", _("Assigned")
        UNASSIGNED = "unassigned", _("Unassigned")
        SUBJECT_CHANGED = "subject_changed", _("Subject changed")
        LABEL_ADDED = "label_added", _("Label added")
        LABEL_REMOVED = "label_removed", _("Label removed")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # The parameters of the code: {"from": "open", "to": "resolved"}, {"to": "Aiko Tanaka"}…
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["ticket", "created_at"], name="ticket_event_ticket_time")]

    def __str__(self) -> str:
        return self.get_kind_display()


class TicketLabel(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="label_links", db_index=False)
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="ticket_links", db_index=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "label"], name="ticket_label_unique")]
        indexes = [models.Index(fields=["organization", "label", "ticket"], name="ticket_label_org")]

    def __str__(self) -> str:
        return f"{self.label_id} on {self.ticket_id}"
