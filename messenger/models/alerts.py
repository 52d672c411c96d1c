"""What the desk was told about a conversation, once each by a unique constraint: that it waited
unassigned too long (UnassignedAlert), that a reply window is closing on a customer nobody
answered (WindowAlert); and the conversations lost to a closed window, kept for the reports
(WindowLoss)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from channels.models import Channel
from helpdesk.models import Department, Organization
from messenger.models.conversations import Conversation


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
