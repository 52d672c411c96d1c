"""Outgoing webhooks: the endpoints an organization's admins registered, the outbox of events
(written in the transaction of the change) and each event's deliveries to each endpoint."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Organization
from helpdesk.signals import EVENT_TYPES


class EventType(models.TextChoices):
    CONVERSATION_CREATED = EVENT_TYPES[0], _("Conversation created")
    CONVERSATION_ASSIGNED = EVENT_TYPES[1], _("Conversation assigned")
    CONVERSATION_CLOSED = EVENT_TYPES[2], _("Conversation closed")
    MESSAGE_RECEIVED = EVENT_TYPES[3], _("Message received")
    MESSAGE_SENT = EVENT_TYPES[4], _("Message sent")
    MESSAGE_FAILED = EVENT_TYPES[5], _("Message failed")
    TICKET_CREATED = EVENT_TYPES[6], _("Ticket created")
    TICKET_UPDATED = EVENT_TYPES[7], _("Ticket updated")
    SLA_BREACHED = EVENT_TYPES[8], _("SLA breached")
    PAGE_NEEDS_REAUTHORIZATION = EVENT_TYPES[9], _("Page needs re-authorization")


class WebhookEndpoint(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # Event types (EventType values) sent to it.
    events = models.JSONField(default=list)
    # The key of the signature (X-Helpdesk-Signature), made by the product, shown to admins.
    secret = models.CharField(max_length=80)
    enabled = models.BooleanField(default=True)
    # Why it was turned off ("failing": every delivery failed for a day; "" by an admin).
    disabled_reason = models.CharField(max_length=40, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Since its first failure after its last success (a day of it disables the endpoint).
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # After a failure nothing more is tried before this (one probe, then the backlog).
    paused_until = models.DateTimeField(null=True, blank=True)
    # One sender at a time per endpoint (outgoing.services.endpoint_deliver).
    lease_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["organization", "enabled"])]

    def __str__(self) -> str:
        return self.url


class OutgoingEvent(models.Model):
    """The outbox: one row per thing that happened, whatever the number of endpoints."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # The event's id as receivers see it (kept by every retry and by "send again").
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    # What `data` is: "conversation", "message", "ticket" or "page", and its id.
    resource = models.CharField(max_length=20)
    resource_id = models.BigIntegerField()
    # Deliveries of one conversation's events go in order.
    conversation_id = models.BigIntegerField(null=True, blank=True)
    # The JSON sent, written at its first delivery (the resource as the API shows it then).
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["organization", "created_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Given up")


_PENDING = models.Q(state=DeliveryState.PENDING)


class Delivery(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutgoingEvent, on_delete=models.CASCADE, related_name="deliveries")
    conversation_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=20, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    # Why the last attempt failed without an answer (timeout, refused, endpoint_not_allowed).
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        # The sender reads only pending rows: its indexes hold only them (a delivered row
        # leaves them, and a backlog's batch reads its oldest rows, not the whole backlog).
        indexes = [
            models.Index(fields=["endpoint", "id"], condition=_PENDING, name="outgoing_pending_order"),
            models.Index(fields=["endpoint", "next_attempt_at"], condition=_PENDING, name="outgoing_pending_due"),
            models.Index(fields=["endpoint", "conversation_id"], condition=_PENDING, name="outgoing_pending_conv"),
            models.Index(fields=["organization", "endpoint", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id}: {self.state}"
