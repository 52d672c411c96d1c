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


class AssignmentMode(models.TextChoices):
    """How a channel's new and reopened conversations find an agent."""

    OFF = "off", _("Off (agents pick conversations)")
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_LOADED = "least_loaded", _("Least loaded")


class Channel(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="channels")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="channels")
    kind = models.CharField(max_length=20, choices=ChannelKind.choices, default=ChannelKind.MESSENGER)
    name = models.CharField(_("name"), max_length=100)
    icon = models.ImageField(_("icon"), upload_to="channel-icons/", blank=True)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    assignment_mode = models.CharField(
        _("automatic assignment"), max_length=20, choices=AssignmentMode.choices, default=AssignmentMode.OFF
    )
    # When an agent closes a conversation (or resolves its ticket), the customer is asked for a
    # rating (csat), inside the 24-hour window only.
    asks_for_rating = models.BooleanField(_("ask customers for a rating"), default=False)
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
    # Round robin gives the next conversation to the agent who got one of this channel longest ago.
    last_assigned_at = models.DateTimeField(null=True, blank=True)
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


WEEKDAYS = range(7)  # Monday is 0, as datetime.weekday() counts
MINUTES_PER_DAY = 24 * 60


class BusinessHours(models.Model):
    """A department's opening hours in the organization's time zone, and what the product
    answers a customer who writes while it is closed."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    department = models.OneToOneField(Department, on_delete=models.CASCADE, related_name="business_hours")
    is_enabled = models.BooleanField(_("use business hours"), default=False)
    # Sent once per conversation per closed period, inside the 24-hour window only; blank: none.
    out_of_hours_reply_en = models.TextField(_("out-of-hours reply (English)"), blank=True)
    out_of_hours_reply_ja = models.TextField(_("out-of-hours reply (Japanese)"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.department_id}: {'on' if self.is_enabled else 'off'}"


class BusinessInterval(models.Model):
    """One opening interval of a weekday, in minutes from midnight (end 1440: until midnight)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    business_hours = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="intervals")
    weekday = models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)])
    start_minute = models.PositiveSmallIntegerField(validators=[MaxValueValidator(MINUTES_PER_DAY - 1)])
    end_minute = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MINUTES_PER_DAY)])

    class Meta:
        ordering = ["weekday", "start_minute"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weekday__lte=6)
                & models.Q(start_minute__lt=models.F("end_minute"))
                & models.Q(end_minute__lte=MINUTES_PER_DAY),
                name="business_interval_well_formed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.weekday}: {self.start_minute}–{self.end_minute}"


class Holiday(models.Model):
    """A date (in the organization's time zone) on which the department is closed all day."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    business_hours = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["business_hours", "date"], name="holiday_once_per_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"
