"""Forms of the channel settings pages. They parse; the services decide."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.files.base import ContentFile
from django.utils.translation import gettext_lazy as _

from channels.icons import icon_prepare
from channels.models import TICKET_DELAY_MAX_MINUTES, TICKET_DELAY_MIN_MINUTES, AssignmentMode
from helpdesk.converters import parse_id
from helpdesk.exceptions import InvalidInput
from helpdesk.forms import StyledForm
from helpdesk.models import Department
from helpdesk.selectors import department_list


class IdChoiceField(forms.TypedChoiceField):
    """A select of the organization's rows whose submitted id is checked by the service, not
    here: an id of another organization is then a 404, as everywhere else. What is no id at
    all ("²", a number beyond 64 bits) is a form error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("coerce", parse_id)
        kwargs.setdefault("empty_value", None)
        super().__init__(*args, **kwargs)

    def valid_value(self, value: Any) -> bool:
        return parse_id(value) > 0


class IdMultipleChoiceField(forms.TypedMultipleChoiceField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("coerce", parse_id)
        super().__init__(*args, **kwargs)

    def valid_value(self, value: Any) -> bool:
        return parse_id(value) > 0


ASSIGNMENT_HELP = _(
    "Off: agents pick conversations themselves. Round robin: each new conversation goes to the next "
    "online agent of the channel in turn. Least loaded: to the online agent with the fewest open "
    "conversations. An agent is given no more than their capacity; when nobody has room, conversations "
    "wait in the queue, oldest first."
)


def assignment_mode_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label=_("Automatic assignment"),
        choices=AssignmentMode.choices,
        required=False,
        help_text=ASSIGNMENT_HELP,
    )


class ChannelForm(StyledForm):
    icon = forms.FileField(
        label=_("Icon"),
        required=False,
        help_text=_("A .jpg, .jpeg or .png image of at most 1 MB; it is shown at 256 × 256 pixels at most."),
        widget=forms.FileInput(attrs={"accept": ".jpg,.jpeg,.png,image/jpeg,image/png"}),
    )
    remove_icon = forms.BooleanField(label=_("Remove the icon"), required=False)
    name = forms.CharField(label=_("Name"), max_length=100)
    department = IdChoiceField(label=_("Department"), choices=())
    # Shown on the edit page only (a new channel starts with assignment off).
    assignment_mode = assignment_mode_field()

    def __init__(self, *args: Any, organization: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        departments = department_list(organization=organization)
        cast(IdChoiceField, self.fields["department"]).choices = [
            ("", _("Choose a department")),
            *((department.pk, department.name) for department in departments),
        ]

    def clean_icon(self) -> ContentFile | None:
        icon = self.cleaned_data.get("icon")
        if not icon:
            return None
        try:
            return icon_prepare(icon)
        except InvalidInput as error:
            raise forms.ValidationError(str(error.message)) from None


class AssignmentModeForm(forms.Form):
    """The Agents tab's choice of one channel's automatic assignment."""

    department = forms.IntegerField(widget=forms.HiddenInput, required=False)
    assignment_mode = assignment_mode_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignment_mode"].required = True


class AgentChannelsForm(forms.Form):
    department = forms.IntegerField(widget=forms.HiddenInput)
    channels = IdMultipleChoiceField(label=_("Channels"), required=False, widget=forms.CheckboxSelectMultiple)


class TicketDelayForm(StyledForm):
    """One field per department: minutes of customer silence before a chat becomes a ticket."""

    def __init__(self, *args: Any, departments: list[tuple[Department, int]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.departments = departments
        for department, minutes in departments:
            self.fields[self.field_name(department.pk)] = forms.IntegerField(
                label=department.name,
                min_value=TICKET_DELAY_MIN_MINUTES,
                max_value=TICKET_DELAY_MAX_MINUTES,
                initial=minutes,
                error_messages={
                    "min_value": _("At least 60 minutes."),
                    "max_value": _("At most 24 hours (1440 minutes)."),
                },
                widget=forms.NumberInput(attrs={"step": 1}),
            )
            # StyledForm gave its classes to the fields it knew; these came later.
            self.fields[self.field_name(department.pk)].widget.attrs["class"] = "form-control"

    @staticmethod
    def field_name(department_id: int) -> str:
        return f"delay_{department_id}"

    def rows(self) -> list[tuple[Department, Any]]:
        return [(department, self[self.field_name(department.pk)]) for department, _minutes in self.departments]

    def delays(self) -> dict[int, int]:
        return {department.pk: self.cleaned_data[self.field_name(department.pk)] for department, _ in self.departments}
