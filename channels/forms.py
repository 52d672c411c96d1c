"""Forms of the channel settings pages. They parse; the services decide."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django import forms
from django.core.files.base import ContentFile
from django.utils.translation import gettext_lazy as _

from channels.hours import (
    WEEKDAY_NAMES,
    Interval,
    InvalidSchedule,
    day_intervals_parse,
    interval_text,
    week_validate,
)
from channels.icons import icon_prepare
from channels.message_text import MAX_TEXT_LENGTH, normalize_text, text_length
from channels.models import (
    TICKET_DELAY_MAX_MINUTES,
    TICKET_DELAY_MIN_MINUTES,
    WEEKDAYS,
    AssignmentMode,
    BusinessHours,
)
from channels.services import HolidayInput
from helpdesk.converters import parse_id
from helpdesk.exceptions import InvalidInput, message_too_long_text
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
    # Shown on the edit page only (a new channel starts without ratings).
    asks_for_rating = forms.BooleanField(
        label=_("Ask customers for a rating"),
        required=False,
        help_text=_(
            "When an agent closes a conversation or resolves its ticket, the customer is asked to rate the "
            "answer from 1 to 5, only while Messenger's 24-hour window is open."
        ),
    )

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


class BusinessHoursForm(StyledForm):
    """A department's business hours as an admin writes them: a line of time ranges per
    weekday ("09:00-12:00, 13:00-18:00"; blank: closed), a holiday per line ("2026-12-31
    New Year's Eve"), the out-of-hours reply in English and Japanese. Each error names the
    day or the line; the service checks everything again (the API's path)."""

    is_enabled = forms.BooleanField(label=_("Use business hours"), required=False)
    holidays = forms.CharField(
        label=_("Holidays"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line: the date, then a name if you like (2026-12-31 New Year's Eve). Closed all day."),
    )
    out_of_hours_reply_en = forms.CharField(
        label=_("Out-of-hours reply (English)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    out_of_hours_reply_ja = forms.CharField(
        label=_("Out-of-hours reply (Japanese)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for weekday in WEEKDAYS:
            self.fields[self.day_field(weekday)] = forms.CharField(
                label=WEEKDAY_NAMES[weekday],
                required=False,
                max_length=200,
                widget=forms.TextInput(attrs={"class": "form-control"}),
            )

    @staticmethod
    def day_field(weekday: int) -> str:
        return f"day_{weekday}"

    @staticmethod
    def initial_for(business_hours: BusinessHours | None) -> dict[str, Any]:
        if business_hours is None:
            return {}
        initial: dict[str, Any] = {
            "is_enabled": business_hours.is_enabled,
            "out_of_hours_reply_en": business_hours.out_of_hours_reply_en,
            "out_of_hours_reply_ja": business_hours.out_of_hours_reply_ja,
            "holidays": "\n".join(
                f"{holiday.date.isoformat()} {holiday.name}".strip() for holiday in business_hours.holidays.all()
            ),
        }
        for weekday in WEEKDAYS:
            initial[BusinessHoursForm.day_field(weekday)] = ", ".join(
                interval_text(interval.start_minute, interval.end_minute).replace("–", "-")
                for interval in business_hours.intervals.all()
                if interval.weekday == weekday
            )
        return initial

    def days(self) -> list[Any]:
        return [self[self.day_field(weekday)] for weekday in WEEKDAYS]

    def clean(self) -> dict[str, Any]:
        super().clean()
        for weekday in WEEKDAYS:
            name = self.day_field(weekday)
            if name in self.errors or name not in self.cleaned_data:
                continue
            try:
                ranges = day_intervals_parse(weekday, self.cleaned_data[name])
                self.cleaned_data[name] = list(week_validate(Interval(weekday, start, end) for start, end in ranges))
            except InvalidSchedule as error:
                self.add_error(name, str(error.message))
        for name in ("out_of_hours_reply_en", "out_of_hours_reply_ja"):
            text = normalize_text(self.cleaned_data.get(name) or "")
            if text_length(text) > MAX_TEXT_LENGTH:
                self.add_error(
                    name,
                    f"{message_too_long_text(MAX_TEXT_LENGTH)} "
                    + _("%(count)d of %(max)d characters.") % {"count": text_length(text), "max": MAX_TEXT_LENGTH},
                )
        if "holidays" in self.cleaned_data and "holidays" not in self.errors:
            try:
                self.cleaned_data["holidays"] = holidays_parse(self.cleaned_data["holidays"])
            except InvalidSchedule as error:
                self.add_error("holidays", str(error.message))
        return self.cleaned_data

    def intervals(self) -> list[Interval]:
        return [interval for weekday in WEEKDAYS for interval in self.cleaned_data[self.day_field(weekday)]]


def holidays_parse(text: str) -> list[HolidayInput]:
    """One holiday per line: an ISO date, then its name (optional)."""
    holidays: list[HolidayInput] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        day, _space, name = line.partition(" ")
        try:
            holidays.append(HolidayInput(date.fromisoformat(day), name.strip()))
        except ValueError:
            raise InvalidSchedule(
                _("Line %(number)d: “%(text)s” does not start with a date such as 2026-12-31.")
                % {"number": number, "text": line}
            ) from None
    return holidays
