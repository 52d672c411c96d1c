"""The raw webhook event log (WebhookEvent: every event of every POST, as it arrived, with what
became of it) and the verified POSTs kept until a worker applies them (ReceivedPost)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from helpdesk.models import Organization


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
