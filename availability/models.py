"""Who is at work: each member's status per organization (online, away, offline), its
history, how many conversations an agent may hold at once, and the organization's rules for
idleness and for taking back an offline agent's conversations.

It stands right above `helpdesk` (memberships): channels, conversations and the assigners
ask it who is online and who has room; it knows nothing of them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Membership, Organization

CAPACITY_MIN = 1
CAPACITY_MAX = 100
CAPACITY_DEFAULT = 5
IDLE_MINUTES_DEFAULT = 15
IDLE_MINUTES_MIN = 1
IDLE_MINUTES_MAX = 240
OFFLINE_GRACE_MINUTES_DEFAULT = 10
OFFLINE_GRACE_MINUTES_MAX = 24 * 60


class Status(models.TextChoices):
    ONLINE = "online", _("Online")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


class ChangeReason(models.TextChoices):
    """Why a status changed: the member chose it, or the product saw it."""

    CHOSEN = "chosen", _("Chosen by the member")
    ADMIN = "admin", _("Set by an admin")
    IDLE = "idle", _("No activity")
    ACTIVE = "active", _("Activity again")
    LOGOUT = "logout", _("Signed out")
    NO_TAB = "no_tab", _("No open tab")
    LOGIN = "login", _("Signed in")


class Availability(models.Model):
    """A member's current status in one organization, and what the product last saw of them."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="availability")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFLINE)
    status_since = models.DateTimeField()
    # Input (keys, clicks) seen in any tab: its absence for the idle time sets away.
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # A tab's heartbeat: its absence for a while (no open tab) sets offline.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Open conversations the member may hold at once; None: the organization's.
    capacity = models.PositiveSmallIntegerField(
        _("capacity"),
        null=True,
        blank=True,
        validators=[MinValueValidator(CAPACITY_MIN), MaxValueValidator(CAPACITY_MAX)],
    )
    # When their open conversations went back to the queue after going offline (once per
    # offline spell).
    requeued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(capacity__isnull=True)
                | (models.Q(capacity__gte=CAPACITY_MIN) & models.Q(capacity__lte=CAPACITY_MAX)),
                name="availability_capacity_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id}: {self.status}"


class AvailabilityChange(models.Model):
    """One spell in one status: the reports count the time in each status per day."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices)
    reason = models.CharField(max_length=10, choices=ChangeReason.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "membership", "started_at"])]

    def __str__(self) -> str:
        return f"{self.membership_id}: {self.status} from {self.started_at}"


class AvailabilitySettings(models.Model):
    """The organization's rules: capacity by default, idleness, the offline grace period."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="availability_settings")
    default_capacity = models.PositiveSmallIntegerField(
        _("conversations an agent may hold at once"),
        default=CAPACITY_DEFAULT,
        validators=[MinValueValidator(CAPACITY_MIN), MaxValueValidator(CAPACITY_MAX)],
    )
    idle_minutes = models.PositiveSmallIntegerField(
        _("minutes without activity before away"),
        default=IDLE_MINUTES_DEFAULT,
        validators=[MinValueValidator(IDLE_MINUTES_MIN), MaxValueValidator(IDLE_MINUTES_MAX)],
    )
    requeue_when_offline = models.BooleanField(
        _("return an offline agent's open conversations to the queue"), default=True
    )
    offline_grace_minutes = models.PositiveSmallIntegerField(
        _("minutes offline before their conversations return to the queue"),
        default=OFFLINE_GRACE_MINUTES_DEFAULT,
        validators=[MaxValueValidator(OFFLINE_GRACE_MINUTES_MAX)],
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(default_capacity__gte=CAPACITY_MIN) & models.Q(default_capacity__lte=CAPACITY_MAX),
                name="availability_default_capacity_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}: capacity {self.default_capacity}"
