"""Forms of Settings → SLA; the rules (1 minute to 30 days, one policy per scope) are the service's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from helpdesk.forms import StyledForm
from sla.models import SlaClock


class PolicyForm(StyledForm):
    first_response_minutes = forms.IntegerField(label=_("First response (minutes)"), required=False)
    next_response_minutes = forms.IntegerField(label=_("Next response (minutes)"), required=False)
    resolution_minutes = forms.IntegerField(label=_("Resolution of a ticket (minutes)"), required=False)
    clock = forms.ChoiceField(label=_("Counted in"), choices=SlaClock.choices, initial=SlaClock.BUSINESS_HOURS)

    def targets(self) -> dict[str, Any]:
        return {
            field: self.cleaned_data.get(field)
            for field in ("first_response_minutes", "next_response_minutes", "resolution_minutes")
        }


class NewPolicyForm(PolicyForm):
    """A new policy: for a department (``department:<id>``) or a channel (``channel:<id>``)."""

    scope = forms.ChoiceField(label=_("For"))

    field_order = ["scope", "first_response_minutes", "next_response_minutes", "resolution_minutes", "clock"]

    def __init__(self, *args: Any, scopes: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = scopes  # type: ignore[attr-defined]

    def scope_ids(self) -> tuple[int | None, int | None]:
        """(department id, channel id) of the chosen scope."""
        kind, _sep, value = self.cleaned_data["scope"].partition(":")
        return (int(value), None) if kind == "department" else (None, int(value))
