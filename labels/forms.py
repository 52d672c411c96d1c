"""Forms of Settings → Labels; the rules (name, palette, duplicates) are the service's."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from helpdesk.forms import StyledForm
from labels.models import NAME_MAX_LENGTH, LabelColor


class LabelForm(StyledForm):
    name = forms.CharField(label=_("Name"), max_length=NAME_MAX_LENGTH)
    color = forms.ChoiceField(label=_("Colour"), choices=LabelColor.choices, initial=LabelColor.BLUE)
