"""Service level agreements: how soon a department (or one of its channels) answers and
resolves. The times themselves are kept on the conversation and the ticket (messenger and
tickets migrations); this app holds the policies and the clock they are counted in."""

from __future__ import annotations

from typing import cast

from django.db import models
from django.utils.translation import gettext_lazy as _

from channels.models import Channel
from helpdesk.models import Department, Organization

# A target runs from one minute to 30 days (Bad input of the product: 0 or more is refused).
TARGET_MIN_MINUTES = 1
TARGET_MAX_MINUTES = 30 * 24 * 60


class SlaClock(models.TextChoices):
    # The department's business hours (channels.hours); around the clock when it has none in use.
    BUSINESS_HOURS = "business_hours", _("Business hours")
    WALL_CLOCK = "wall_clock", _("Around the clock")


class SlaTarget(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    NEXT_RESPONSE = "next_response", _("Next response")
    RESOLUTION = "resolution", _("Resolution")


# The policy's field of each target's minutes.
_MINUTES_FIELD = {
    SlaTarget.FIRST_RESPONSE.value: "first_response_minutes",
    SlaTarget.NEXT_RESPONSE.value: "next_response_minutes",
    SlaTarget.RESOLUTION.value: "resolution_minutes",
}


class SlaPolicy(models.Model):
    """The targets of a department, or of one channel (which wins over its department's).
    A blank target is no target of that kind."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="+", db_index=False)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    clock = models.CharField(max_length=20, choices=SlaClock.choices, default=SlaClock.BUSINESS_HOURS)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "department"],
                condition=models.Q(channel__isnull=True),
                name="sla_policy_one_per_department",
            ),
            models.UniqueConstraint(
                fields=["organization", "channel"],
                condition=models.Q(channel__isnull=False),
                name="sla_policy_one_per_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"SLA of department {self.department_id} channel {self.channel_id}"

    def minutes_of(self, target: str) -> int | None:
        """The target's minutes (a sweep asks once a wait: a plain attribute read)."""
        return cast("int | None", getattr(self, _MINUTES_FIELD[target]))
