"""Messages, inbound and outbound, with their direction, source, kind and sending status; and
what hangs on a message: the copy of its text for the inbox search (MessageSearchText), the
out-of-hours reply of a conversation's closed period (OutOfHoursReply), and the referral it
carried, where the customer came from (ConversationReferral)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Organization
from messenger.models.conversations import Conversation
from messenger.models.pages import FacebookPage
from messenger.referrals import referral_text


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
