"""Forms of the availability pages: the organization's rules and a member's capacity."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from availability.models import (
    CAPACITY_MAX,
    CAPACITY_MIN,
    IDLE_MINUTES_MAX,
    IDLE_MINUTES_MIN,
    OFFLINE_GRACE_MINUTES_MAX,
)
from helpdesk.forms import StyledForm

_CAPACITY_ERRORS = {
    "min_value": _("At least 1 conversation."),
    "max_value": _("At most 100 conversations."),
}


class AvailabilitySettingsForm(StyledForm):
    default_capacity = forms.IntegerField(
        label=_("Capacity by default"),
        min_value=CAPACITY_MIN,
        max_value=CAPACITY_MAX,
        help_text=_("Open conversations an agent may hold at once, unless their own capacity is set (1–100)."),
        error_messages=_CAPACITY_ERRORS,
    )
    idle_minutes = forms.IntegerField(
        label=_("Minutes without activity before away"),
        min_value=IDLE_MINUTES_MIN,
        max_value=IDLE_MINUTES_MAX,
        help_text=_("An online agent who has not used the helpdesk for this long is set away (1–240)."),
        error_messages={
            "min_value": _("At least 1 minute."),
            "max_value": _("At most 240 minutes."),
        },
    )
    requeue_when_offline = forms.BooleanField(
        label=_("Return an offline agent's open conversations to the queue"), required=False
    )
    offline_grace_minutes = forms.IntegerField(
        label=_("Minutes offline before their conversations return to the queue"),
        min_value=0,
        max_value=OFFLINE_GRACE_MINUTES_MAX,
        help_text=_("0 returns them at once; at most 24 hours (1440 minutes)."),
        error_messages={
            "min_value": _("At least 0 minutes."),
            "max_value": _("At most 24 hours (1440 minutes)."),
        },
    )


class CapacityForm(StyledForm):
    capacity = forms.IntegerField(
        label=_("Most open conversations at once"),
        required=False,
        min_value=CAPACITY_MIN,
        max_value=CAPACITY_MAX,
        help_text=_("Open conversations this member may hold at once (1–100); blank: the organization's default."),
        error_messages=_CAPACITY_ERRORS,
    )
