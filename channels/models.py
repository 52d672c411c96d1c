"""What every kind of channel shares: the channel, its agents, per-department settings."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Department, Membership, Organization

TICKET_DELAY_MIN_MINUTES = 60
TICKET_DELAY_MAX_MINUTES = 24 * 60
TICKET_DELAY_DEFAULT_MINUTES = 60


class ChannelKind(models.TextChoices):
    MESSENGER = "messenger", _("Messenger")


class Channel(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="channels")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="channels")
    kind = models.CharField(max_length=20, choices=ChannelKind.choices, default=ChannelKind.MESSENGER)
    name = models.CharField(_("name"), max_length=100)
    icon = models.ImageField(_("icon"), upload_to="channel-icons/", blank=True)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                condition=models.Q(deleted_at__isnull=True),
                name="channel_name_unique_per_org",
            ),
        ]
        indexes = [models.Index(fields=["organization", "deleted_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_live(self) -> bool:
        """Sends and receives: enabled and not deleted."""
        return self.is_enabled and self.deleted_at is None


class AgentChannel(models.Model):
    """An agent answers the conversations of the channels they are associated with."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="channel_links")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="agent_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "membership", "channel"], name="agent_channel_unique"),
        ]
        indexes = [models.Index(fields=["organization", "channel"])]

    def __str__(self) -> str:
        return f"{self.membership_id} ↔ {self.channel_id}"


class DepartmentSettings(models.Model):
    """Per-department channel settings (the Tickets tab)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    department = models.OneToOneField(Department, on_delete=models.CASCADE, related_name="channel_settings")
    ticket_delay_minutes = models.PositiveIntegerField(
        _("idle time before a chat becomes a ticket (minutes)"),
        default=TICKET_DELAY_DEFAULT_MINUTES,
        validators=[MinValueValidator(TICKET_DELAY_MIN_MINUTES), MaxValueValidator(TICKET_DELAY_MAX_MINUTES)],
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ticket_delay_minutes__gte=TICKET_DELAY_MIN_MINUTES)
                & models.Q(ticket_delay_minutes__lte=TICKET_DELAY_MAX_MINUTES),
                name="ticket_delay_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.department_id}: {self.ticket_delay_minutes} min"
