"""Customers and conversations: a customer as one page sees them (Contact), Messenger's one
continuous conversation per (page, customer) with its state, assignee, reply window and the
customer's wait, the running response target of its SLA (ConversationSla, a narrow table of
its own), its system lines (ConversationEvent) and its labels (ConversationLabel)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels.models import Channel
from helpdesk.models import Department, Organization
from labels.models import Label
from messenger.models.pages import FacebookPage
from sla.models import SlaTarget
from sla.state import SlaState, sla_state


class Contact(models.Model):
    """A customer as one page sees them (Facebook's page-scoped id)."""

    # Both foreign keys lead an index of the Meta (no index of their own).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    page = models.ForeignKey(FacebookPage, on_delete=models.CASCADE, related_name="contacts", db_index=False)
    psid = models.CharField(max_length=100)
    # A chat-plugin guest arrives as sender.user_ref instead of a PSID.
    is_guest = models.BooleanField(default=False)
    # As Facebook gives them (`first_name` the given name, `last_name` the family name), so
    # that the name is shown in the reader's order (messenger.contact_names); `display_name`
    # is the given name first, or the placeholder the webhook stores until a profile arrives.
    display_name = models.CharField(max_length=200, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    avatar_url = models.URLField(max_length=1000, blank=True)
    # Facebook's locale ("ja_JP") when the profile gives it (it often does not): a canned
    # response is sent in the contact's language when it has one.
    locale = models.CharField(max_length=20, blank=True)
    profile_fetched_at = models.DateTimeField(null=True, blank=True)
    # Facebook gave no name (nothing, an error, privacy): asked again at this time, with a
    # growing delay (messenger.services.contacts.PROFILE_RETRY_DELAYS); None once named.
    profile_attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    profile_retry_at = models.DateTimeField(null=True, blank=True)
    # The profile picture copied into the default storage (Facebook's URLs expire), served by
    # messenger.views.avatars to members who may see the contact; refreshed weekly.
    avatar_stored_name = models.CharField(max_length=300, blank=True, default="", db_default="")
    avatar_fetched_at = models.DateTimeField(null=True, blank=True)
    is_blocked = models.BooleanField(default=False)
    blocked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["page", "psid"], name="contact_unique_per_page")]
        indexes = [
            models.Index(fields=["organization", "display_name"]),
            models.Index(
                fields=["profile_retry_at"],
                condition=models.Q(profile_retry_at__isnull=False),
                name="contact_profile_retry_idx",
            ),
            models.Index(
                fields=["avatar_fetched_at"],
                condition=models.Q(avatar_fetched_at__isnull=False),
                name="contact_avatar_fetched_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.psid


class ConversationState(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


def response_target(*, first_answered_at: datetime | None) -> str:
    """The response target a customer's wait runs against: the first response until an agent
    first answered, the next response afterwards."""
    return SlaTarget.NEXT_RESPONSE if first_answered_at is not None else SlaTarget.FIRST_RESPONSE


class Conversation(models.Model):
    """Messenger's one continuous thread per (page, customer)."""

    # Every message moves last_message_at, which the inbox's indexes hold, so each of the
    # table's indexes is written again per message: foreign keys that lead an index of the
    # Meta (organization, page, assignee) or are only read through another table (department)
    # have no index of their own.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Where the conversation is filed (who sees it); forwarding may move it to another channel.
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="conversations")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+", db_index=False)
    # Which page it is held on (replies go out through this page).
    page = models.ForeignKey(FacebookPage, on_delete=models.CASCADE, related_name="conversations", db_index=False)
    # Indexed by the unique constraint below, which it leads.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations", db_index=False)
    state = models.CharField(max_length=10, choices=ConversationState.choices, default=ConversationState.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # When the customer last wrote (Facebook's timestamp, no later than when it arrived):
    # the reply window is measured from it.
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=200, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    # Since when the customer waits for an answer: their oldest message no agent answered
    # since (None: answered, or they never wrote). An automatic reply does not answer.
    waiting_since = models.DateTimeField(null=True, blank=True)
    # When it joined its channel's queue of automatic assignment (None: not queued), which
    # hands out the oldest first.
    queued_at = models.DateTimeField(null=True, blank=True)
    # When an agent first answered the customer (the agent's reply sets it): until then a wait
    # runs the SLA's first response target, afterwards its next response target.
    first_answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "page"], name="conversation_unique_per_contact")]
        indexes = [
            # The queue (partial: a webhook touching a conversation not queued writes nothing here).
            models.Index(
                fields=["channel", "queued_at", "id"],
                condition=models.Q(queued_at__isnull=False),
                name="conversation_queue_idx",
            ),
            # An agent's load: their open conversations (partial: unassigned ones are not in it).
            models.Index(
                fields=["assignee"],
                condition=models.Q(state="open", assignee__isnull=False),
                name="conversation_open_assignee_idx",
            ),
            models.Index(fields=["organization", "channel", "-last_message_at"]),
            # The inbox's order (newest activity first, ties by id): a first page reads ~25 rows.
            models.Index(fields=["organization", "-last_message_at", "-id"], name="conversation_activity_idx"),
            models.Index(fields=["organization", "assignee", "-last_message_at"]),
            # Reply windows about to close on a customer nobody answered, and those that closed
            # (messenger.window_alerts): ranges of the customer's last message among the open
            # conversations that wait for an answer, not a pass over every conversation.
            models.Index(
                fields=["last_inbound_at"],
                condition=models.Q(state="open", waiting_since__isnull=False),
                name="conversation_unanswered_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} on {self.channel}"

    @property
    def sla_target(self) -> str:
        return response_target(first_answered_at=self.first_answered_at)

    def response_sla(self, *, now: datetime | None = None) -> SlaState | None:
        """The SLA state of the customer's wait (None: nobody waits, no target, or the sweep
        has not yet timed this wait). Lists read `sla` with the rows (select_related)."""
        kept: ConversationSla | None = getattr(self, "sla", None)
        if (
            self.state != ConversationState.OPEN
            or self.waiting_since is None
            or kept is None
            or kept.started_at != self.waiting_since
        ):
            return None
        return sla_state(target=self.sla_target, due_at=kept.due_at, warn_at=kept.warn_at, now=now or timezone.now())


class ConversationSla(models.Model):
    """The running response target of a conversation's SLA, kept by its sweep
    (messenger.services.sla) for the wait that began at `started_at`; while that differs from
    the conversation's `waiting_since` the times are stale and read as none. A narrow table of
    its own: timing every open wait at once (a policy added) writes these rows, not the wide
    and much-indexed conversation rows, and the webhook never writes here."""

    # No foreign key in the database: its check per row cost more than the row (1.6 s over
    # 100,000 waits timed at once); the ORM's cascade deletes these with their conversation.
    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, primary_key=True, related_name="sla", db_constraint=False
    )
    started_at = models.DateTimeField()
    warn_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"SLA of conversation {self.conversation_id} from {self.started_at:%Y-%m-%d %H:%M}"


class ConversationEvent(models.Model):
    """A system line in the transcript: assigned, forwarded, closed, converted to a ticket…"""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", _("Assigned")
        UNASSIGNED = "unassigned", _("Unassigned")
        FORWARDED = "forwarded", _("Forwarded")
        CLOSED = "closed", _("Closed")
        REOPENED = "reopened", _("Reopened")
        BLOCKED = "blocked", _("Customer blocked")
        UNBLOCKED = "unblocked", _("Customer unblocked")
        CONVERTED = "converted", _("Converted to a ticket")
        CHANNEL_DISABLED = "channel_disabled", _("Channel disabled")
        CHANNEL_ENABLED = "channel_enabled", _("Channel enabled")
        CHANNEL_DELETED = "channel_deleted", _("Channel deleted")
        CHANNEL_MOVED = "channel_moved", _("Channel moved to another department")
        # Back to the queue of automatic assignment (its agent went offline, for one).
        REQUEUED = "requeued", _("Returned to the queue")
        OUT_OF_HOURS_REPLY = "out_of_hours", _("Out-of-hours reply sent")
        LABEL_ADDED = "label_added", _("Label added")
        LABEL_REMOVED = "label_removed", _("Label removed")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Names and notes as they were at the time (e.g. {"to": "Alice", "note": "…"}).
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["conversation", "created_at"])]

    def __str__(self) -> str:
        return self.get_kind_display()


class ConversationLabel(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="label_links", db_index=False)
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="conversation_links", db_index=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "label"], name="conversation_label_unique"),
        ]
        # The inbox filtered by a label reads this index (the conversations of a label).
        indexes = [models.Index(fields=["organization", "label", "conversation"], name="conversation_label_org")]

    def __str__(self) -> str:
        return f"{self.label_id} on {self.conversation_id}"
