"""The Messenger kind of channel: linked Facebook Pages, customers, conversations, messages,
and the raw webhook event log."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from channels.models import Channel
from helpdesk.models import Department, Membership, Organization
from labels.models import Label
from messenger.referrals import referral_text
from sla.models import SlaTarget
from sla.state import SlaState, sla_state


class PageStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    EXPIRING_SOON = "expiring_soon", _("Expiring soon")
    REAUTHORIZATION_REQUIRED = "reauthorization_required", _("Re-authorization required")


class ReauthorizationReason(models.TextChoices):
    TOKEN_EXPIRED = "token_expired", _("Token expired")
    PERMISSIONS_REVOKED = "permissions_revoked", _("Permissions revoked")
    APP_ACCESS_REVOKED = "app_access_revoked", _("App access revoked")
    PAGE_ADDED = "page_added", _("Page newly added to the channel")
    PAGE_REMOVED = "page_removed", _("Page removed from the channel")
    POLICY_EXPIRED = "policy_expired", _("60 days since authorization")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    TOKEN_INVALID = "token_invalid", _("Token no longer valid")
    # Error 190's other subcodes (messenger.graph.TOKEN_SUBCODE_REASONS maps them here).
    USER_CHECKPOINT = "user_checkpoint", _("Facebook holds the authorizing account at a security checkpoint")
    USER_UNCONFIRMED = "user_unconfirmed", _("The authorizing Facebook account is not confirmed")
    SESSION_INVALID = "session_invalid", _("The authorizing person logged out of Facebook or their session ended")
    PAGE_ROLE_LOST = "page_role_lost", _("The authorizing person no longer has a role on the Page")
    USER_INACTIVE = "user_inactive", _("The authorizing person has not used Facebook for 90 days")
    # Meta's data deletion callback: the person who authorized the page removed the app and
    # asked for their data to be deleted (privacy.deletion).
    DATA_DELETION = "data_deletion", _("The authorizing person asked Facebook to delete their data")


class PageStatusCause(models.TextChoices):
    """Why a page's status changed when no re-authorization reason says it: stored in the audit
    log's entry of the change (messenger.pages.authorization), shown in the reader's language."""

    LINK_CHECKED = "link_checked", _("Token checked and the app subscribed")
    EXPIRY_NEAR = "expiry_near", _("Re-authorization is due soon")
    TOKEN_RENEWED = "token_renewed", _("Token renewed before its deadline")


class SubscriptionState(models.TextChoices):
    """What the daily check of the page's `subscribed_apps` found (messenger.pages.health)."""

    UNKNOWN = "unknown", _("Not checked yet")
    SUBSCRIBED = "subscribed", _("Subscribed")
    RESUBSCRIBED = "resubscribed", _("Dropped by Facebook, subscribed again")
    DROPPED = "dropped", _("Dropped by Facebook, not subscribed again yet")


class FacebookPage(models.Model):
    """One linking of a Facebook Page to a channel.

    A page is linked to at most one live channel in the whole service (webhooks are routed
    by page id): the partial unique constraint holds that. Removing a page sets
    `unlinked_at`; its conversations stay with this row.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="facebook_pages")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="facebook_pages")
    page_id = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    access_token_encrypted = models.TextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    authorized_at = models.DateTimeField(null=True, blank=True)
    token_checked_at = models.DateTimeField(null=True, blank=True)
    # The app-scoped Facebook user id of the person whose Facebook Login gave the current token
    # (debug_token's user_id): Meta's data deletion callback names that person.
    authorized_by_facebook_user = models.CharField(max_length=40, blank=True, db_index=True)
    status = models.CharField(max_length=30, choices=PageStatus.choices, default=PageStatus.ACTIVE)
    reauthorization_reason = models.CharField(max_length=30, choices=ReauthorizationReason.choices, blank=True)
    # The expiry the admins were last warned about, so that each expiry is announced once.
    expiry_warned_for = models.DateTimeField(null=True, blank=True)
    unlinked_at = models.DateTimeField(null=True, blank=True)
    # Page health (messenger.pages.health): the app's webhook subscription as last checked,
    # when Facebook was last found to have dropped it and when it was subscribed again.
    subscription_state = models.CharField(
        max_length=12, choices=SubscriptionState.choices, default=SubscriptionState.UNKNOWN
    )
    subscription_checked_at = models.DateTimeField(null=True, blank=True)
    subscription_dropped_at = models.DateTimeField(null=True, blank=True)
    resubscribed_at = models.DateTimeField(null=True, blank=True)
    # The latest webhook event for the page and the latest message sent through it, written
    # at most once a minute; `silent_since` is set while the page is unusually quiet.
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    silent_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["page_id"], condition=models.Q(unlinked_at__isnull=True), name="facebook_page_linked_once"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "channel"]),
            models.Index(fields=["status", "token_expires_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.page_id})"


class PageActivityHour(models.Model):
    """How many webhook events arrived for a page in one hour (UTC, the hour's start): counted
    when they are received, so that "is this page unusually silent?" reads a few rows of its
    own history instead of the messages."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Leads the unique constraint: no index of its own.
    page = models.ForeignKey(FacebookPage, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()
    events = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["page", "hour"], name="page_activity_hour_unique")]

    def __str__(self) -> str:
        return f"page {self.page_id} {self.hour:%Y-%m-%d %H}:00 {self.events}"


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
            # The inbox's view counts (Mine, Unassigned, All of the member's channels), polled with
            # the list: read from the index alone (partial: open conversations only).
            models.Index(
                fields=["organization", "channel", "assignee"],
                include=["id", "state"],
                condition=models.Q(state="open"),
                name="conversation_open_counts_idx",
            ),
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


class Direction(models.TextChoices):
    INBOUND = "in", _("From the customer")
    OUTBOUND = "out", _("To the customer")


class MessageSource(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent (helpdesk)")
    # A reply made in Facebook's own inbox or by another app, seen through its echo.
    EXTERNAL = "external", _("Sent outside the helpdesk")
    # Sent by the product itself (the out-of-hours reply): never with the HUMAN_AGENT tag.
    AUTOMATIC = "automatic", _("Automatic")


class MessageStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


class MessageKind(models.TextChoices):
    TEXT = "text", _("Text")
    ATTACHMENT = "attachment", _("Attachment")
    STICKER = "sticker", _("Sticker")
    POSTBACK = "postback", _("Postback")
    REFERRAL = "referral", _("Referral")
    OPTIN = "optin", _("Opt-in")


class Message(models.Model):
    # The webhook's hot path inserts here: every index is written per message. The foreign
    # keys lead an index of the Meta instead of having their own (a page's messages are
    # only ever deleted with the page, a rare cascade).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False)
    page = models.ForeignKey(FacebookPage, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Facebook's message id; empty until an outbound message has been sent.
    mid = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 (NULL keeps unsent rows out of the unique constraint)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    source = models.CharField(max_length=10, choices=MessageSource.choices)
    kind = models.CharField(max_length=12, choices=MessageKind.choices, default=MessageKind.TEXT)
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    text = models.TextField(blank=True)
    # [{"type": "image"|"video"|"audio"|"file"|"location"|"fallback"|"sticker"|"template"|…,
    #   "url"?, "title"?, "sticker_id"?, "lat"?, "long"?}]; an inbound file kept in our storage
    #   adds "stored_name", "size", "content_type" (or "download_error" when it could not be).
    attachments = models.JSONField(default=list, blank=True)
    # When a download of its attachments was first taken up (messenger.services.attachments);
    # the periodic catch-up queues the attachment messages still without one (broker down).
    attachments_tried_at = models.DateTimeField(null=True, blank=True)
    sticker_id = models.CharField(max_length=40, blank=True)
    quick_reply_payload = models.CharField(max_length=1000, blank=True)
    # Outbound: the quick replies offered under the text ([{"content_type": "text", "title",
    # "payload"}], as the Send API takes them); NULL for every other message.
    quick_replies = models.JSONField(null=True, blank=True, default=None)
    reply_to_mid = models.CharField(max_length=255, blank=True)
    postback_title = models.CharField(max_length=1000, blank=True)
    postback_payload = models.CharField(max_length=1000, blank=True)
    # {"<psid>": {"reaction": "love", "emoji": "❤"}}: the current reaction of each reactor.
    reactions = models.JSONField(default=dict, blank=True)
    edit_count = models.PositiveIntegerField(default=0)
    edited_at = models.DateTimeField(null=True, blank=True)
    # When it was written: Facebook's timestamp, taken as no later than received_at.
    sent_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # Outbound: our idempotency key, sent as the Send API metadata and recognised in the echo
    # (unique where set: a partial constraint, so that inbound rows add nothing to its index).
    idempotency_key = models.UUIDField(null=True, blank=True, default=None)
    messaging_type = models.CharField(max_length=20, blank=True)
    tag = models.CharField(max_length=30, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Outbound: when the sending code last moved it (queued, sending, failed): the recovery
    # job finds sends stuck in "sending" and publications lost while "queued" by it.
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Outbound: when publishing its send task last failed (the broker was down). Later than
    # status_changed_at: no task of its current state is known to exist, and the recovery
    # job publishes it again at its next run instead of waiting.
    dispatch_failed_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # A blocked customer's messages are kept but not shown.
    is_hidden = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["page", "mid"], condition=models.Q(mid__isnull=False), name="message_mid_unique_per_page"
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="message_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "sent_at"]),
            # Receipts advance the outbound messages still waiting for one: customers' messages,
            # most of the table and of the webhook's inserts, are not in this index.
            models.Index(
                fields=["conversation", "sent_at"],
                condition=models.Q(direction="out", status__in=["sent", "delivered"]),
                name="message_awaiting_receipt_idx",
            ),
            # Agents' own messages (a user's deletion sets them to NULL).
            models.Index(fields=["author"], condition=models.Q(author__isnull=False), name="message_author_idx"),
            models.Index(
                fields=["status", "status_changed_at"],
                condition=models.Q(status__in=["queued", "sending"]),
                name="message_pending_send_idx",
            ),
            models.Index(
                fields=["received_at"],
                condition=models.Q(kind="attachment", attachments_tried_at__isnull=True),
                name="message_attach_untried_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()}: {self.text[:40]}"

    @staticmethod
    def new_idempotency_key() -> uuid.UUID:
        return uuid.uuid4()


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


class WebhookOutcome(models.TextChoices):
    # "Pending" here is "not processed yet", unlike a pending ticket: its own translation context.
    PENDING = "pending", pgettext_lazy("webhook outcome", "Pending")
    STORED = "stored", _("Stored")
    DUPLICATE = "duplicate", _("Duplicate")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed")


class WebhookEvent(models.Model):
    """Every event of every webhook POST, as it arrived, with what became of it."""

    # Leads the (organization, -received_at) index: no index of its own.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False
    )
    page_id = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=30)
    mid = models.CharField(max_length=255, blank=True)
    payload = models.JSONField()
    outcome = models.CharField(max_length=10, choices=WebhookOutcome.choices, default=WebhookOutcome.PENDING)
    reason = models.CharField(max_length=60, blank=True)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-received_at"]),
            models.Index(fields=["outcome", "received_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome}"


class ReceivedPost(models.Model):
    """A verified webhook POST kept as it arrived until a worker applies it
    (settings.WEBHOOK_APPLY_LATER, messenger.webhook.later): Facebook gets its 200 once the
    body is committed here, and the applier joins the POSTs waiting into one batch."""

    received_at = models.DateTimeField()
    body = models.BinaryField()

    def __str__(self) -> str:
        return f"POST received at {self.received_at:%Y-%m-%d %H:%M:%S}"


class MessageSearchText(models.Model):
    """The text of a message, copied here for the inbox search (messenger.services.search).

    Kept apart from the message so that the webhook, which inserts messages, never writes
    the search index (a trigram GIN index on PostgreSQL, migration 0007): a periodic job
    copies what arrived, a minute behind, and the search reads the last minute from the
    messages themselves.
    """

    message = models.OneToOneField(Message, on_delete=models.CASCADE, primary_key=True, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+", db_index=False)
    text = models.TextField()

    class Meta:
        # Cascades when a conversation goes; the search itself reads the trigram index.
        indexes = [models.Index(fields=["conversation"], name="message_search_conv_idx")]

    def __str__(self) -> str:
        return self.text[:40]


class OutOfHoursReply(models.Model):
    """The out-of-hours reply of one conversation in one closed period: at most one, by the
    unique constraint, however many messages and workers meet it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+", db_index=False)
    # When the closed period began (the end of the last opening interval before it).
    period_start = models.DateTimeField()
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "period_start"], name="out_of_hours_reply_once_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id} @ {self.period_start}"


class Note(models.Model):
    """A private note of the team in a conversation: shown to the members who may see the
    conversation, in the transcript and the ticket thread, and never sent to Facebook. It is
    not a Message: nothing of the sending path (messenger.services.sending) accepts one."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes", db_index=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # The author's name as it was when written (the account may go).
    author_name = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["conversation", "created_at"], name="note_conversation_time")]

    def __str__(self) -> str:
        return self.body[:50]


class NoteMention(models.Model):
    """A member named with @ in a note (they are notified once)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["note", "user"], name="note_mention_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.note_id}"


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


class SavedView(models.Model):
    """Inbox filters kept under a name: a member's own (``owner``), or shared with the whole
    organization by an admin (``owner`` empty). ``params`` are the inbox's query parameters
    (messenger.selectors.filters.ConversationFilters.as_params)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    owner = models.ForeignKey(
        Membership, on_delete=models.CASCADE, null=True, blank=True, related_name="saved_views", db_index=False
    )
    name = models.CharField(_("name"), max_length=60)
    params = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                models.F("organization"),
                models.F("owner"),
                Lower("name"),
                condition=models.Q(owner__isnull=False),
                name="saved_view_personal_name_unique",
            ),
            models.UniqueConstraint(
                models.F("organization"),
                Lower("name"),
                condition=models.Q(owner__isnull=True),
                name="saved_view_shared_name_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class UnassignedAlert(models.Model):
    """Admins were told that this conversation waited unassigned too long
    (messenger.services.unassigned_alerts), for the stretch without an agent that began with
    its assignment event `since_event_id` (0: since it was created). Once per stretch: after
    an assignment, being left without an agent again is a new stretch."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+", db_index=False)
    since_event_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "since_event_id"], name="unassigned_alert_once"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id} unassigned since event {self.since_event_id}"


class ReplyWindowKind(models.TextChoices):
    """The two reply windows of messenger.reply_window that an alert warns of."""

    STANDARD = "standard", _("24-hour window")
    HUMAN_AGENT = "human_agent", _("7-day human agent window")


class WindowAlert(models.Model):
    """The conversation was flagged "window closing" and its assignee (or its department's
    admins) told (messenger.window_alerts), for the window `window` of the customer's message
    at `inbound_at`: once per window per customer message (a new one re-arms it)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+", db_index=False)
    window = models.CharField(max_length=12, choices=ReplyWindowKind.choices)
    inbound_at = models.DateTimeField()
    # Who was told: the assignee, or None when the admins were.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "window", "inbound_at"], name="window_alert_once"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.window} of {self.inbound_at}"


class WindowLoss(models.Model):
    """A conversation lost to a closed window: the customer's message at `inbound_at` was
    never answered before the 7-day window closed, at `lost_at` (messenger.window_alerts).
    Where it stood then (channel, department, assignee) is kept for the reports."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+", db_index=False)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+", db_index=False)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+", db_index=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    inbound_at = models.DateTimeField()
    lost_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "inbound_at"], name="window_loss_once"),
        ]
        indexes = [models.Index(fields=["organization", "lost_at"], name="window_loss_period_idx")]

    def __str__(self) -> str:
        return f"{self.conversation_id} lost at {self.lost_at}"


class ReferralKind(models.TextChoices):
    """Where a customer came from, as the product groups Facebook's referral sources."""

    AD = "ad", _("Ad")
    LINK = "link", _("m.me link")
    PLUGIN = "plugin", _("Chat plugin")
    OTHER = "other", _("Other")


class ConversationReferral(models.Model):
    """A referral Facebook told about (an m.me link's `ref`, a click-to-Messenger ad, the chat
    plugin, a postback's referral), recorded against the conversation it opened or re-entered.

    One row per webhook message that carried it (the message's unique id holds it once,
    whichever storage path the webhook took). Kept apart from Conversation so that the
    webhook writes nothing more for the messages that carry none; routing rules and the
    inbox's filter read it through its indexes.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="referrals", db_index=False)
    # The message (of kind referral, postback or text) that carried it.
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="referral")
    kind = models.CharField(max_length=10, choices=ReferralKind.choices)
    # As Facebook sent them: source (SHORTLINK, ADS, CUSTOMER_CHAT_PLUGIN…) and type (OPEN_THREAD).
    source = models.CharField(max_length=40, blank=True)
    referral_type = models.CharField(max_length=40, blank=True)
    ref = models.CharField(max_length=250, blank=True)
    ad_id = models.CharField(max_length=64, blank=True)
    ad_title = models.CharField(max_length=250, blank=True)
    referer_uri = models.CharField(max_length=1000, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "-occurred_at"], name="referral_conversation_idx"),
            models.Index(fields=["organization", "kind", "conversation"], name="referral_kind_idx"),
            models.Index(fields=["organization", "ref", "conversation"], name="referral_ref_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.ref or self.ad_id}"

    @property
    def text(self) -> str:
        """The card's sentence in the active language ("Came from the ad 'Spring sale'")."""
        return referral_text(
            kind=self.kind,
            ref=self.ref,
            ad_id=self.ad_id,
            ad_title=self.ad_title,
            referer_uri=self.referer_uri,
            source=self.source,
        )
