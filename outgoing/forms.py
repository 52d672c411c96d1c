"""Forms of Settings → Webhooks; the rules (public https address, known events) are the service's."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from helpdesk.forms import StyledForm
from outgoing.models import EventType
from outgoing.services import DESCRIPTION_MAX, URL_MAX


class EndpointForm(StyledForm):
    url = forms.CharField(label=_("Endpoint URL"), max_length=URL_MAX)
    description = forms.CharField(label=_("Description"), max_length=DESCRIPTION_MAX, required=False)
    events = forms.MultipleChoiceField(
        label=_("Events to send"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )


class EndpointEditForm(EndpointForm):
    enabled = forms.BooleanField(label=_("Enabled"), required=False)
