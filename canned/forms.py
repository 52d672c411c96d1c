"""The settings form of a canned response (the service makes every check; the form shows them)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from canned.models import SHORTCUT_MAX_LENGTH, TITLE_MAX_LENGTH, CannedScope
from helpdesk.forms import StyledForm
from helpdesk.models import Department, Membership


class CannedResponseForm(StyledForm):
    scope = forms.ChoiceField(label=_("Shared with"), choices=CannedScope.choices)
    department = forms.TypedChoiceField(label=_("Department"), coerce=int, required=False, empty_value=None)
    shortcut = forms.CharField(
        label=_("Shortcut"),
        max_length=SHORTCUT_MAX_LENGTH + 1,
        help_text=_("Typed after / in the composer: letters, digits, - and _."),
    )
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX_LENGTH)
    body_en = forms.CharField(
        label=_("Text in English"), required=False, strip=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    body_ja = forms.CharField(
        label=_("Text in Japanese"), required=False, strip=False, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if membership.is_admin:
            departments = Department.objects.filter(
                organization=membership.organization, deleted_at__isnull=True
            ).order_by("name")
            department_field = self.fields["department"]
            assert isinstance(department_field, forms.TypedChoiceField)
            department_field.choices = [("", _("Choose a department")), *((d.pk, d.display_name) for d in departments)]
        else:
            # An agent writes their own only.
            scope_field = self.fields["scope"]
            assert isinstance(scope_field, forms.ChoiceField)
            scope_field.choices = [(CannedScope.PERSONAL, CannedScope.PERSONAL.label)]
            del self.fields["department"]


class CannedAttachmentForm(forms.Form):
    file = forms.FileField(label=_("Add a file"))
