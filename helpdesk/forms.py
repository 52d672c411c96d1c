from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from helpdesk import alerts, datetimes
from helpdesk.converters import parse_id
from helpdesk.exceptions import HelpdeskError
from helpdesk.models import (
    HUMAN_AGENT_WINDOW_ALERT_MAX_HOURS,
    HUMAN_AGENT_WINDOW_ALERT_MIN_HOURS,
    RESPONSE_WINDOW_ALERT_MAX_MINUTES,
    RESPONSE_WINDOW_ALERT_MIN_MINUTES,
    UNASSIGNED_ALERT_MAX_MINUTES,
    UNASSIGNED_ALERT_MIN_MINUTES,
    Department,
    Organization,
    Role,
)
from helpdesk.names import family_name_first
from helpdesk.selectors import department_list
from helpdesk.services import email_send_later


def _style_fields(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, (forms.CheckboxInput, forms.CheckboxSelectMultiple, forms.Select)):
            continue
        widget.attrs.setdefault("class", "form-control")


def _mark_invalid(form: forms.BaseForm) -> None:
    for name in form.errors:
        if name in form.fields:
            widget = form.fields[name].widget
            widget.attrs["class"] = (widget.attrs.get("class", "") + " is-invalid").strip()
            widget.attrs["aria-invalid"] = "true"


class StyledForm(forms.Form):
    """Gives text inputs Bootstrap's form-control class (and marks invalid ones) when bound."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style_fields(self)

    def full_clean(self) -> None:
        super().full_clean()
        _mark_invalid(self)


class IdModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Rows chosen by id. A value that is no id ("²", a number beyond 64 bits) is refused as
    Django refuses a word, before the database is asked (where it would be an error)."""

    def clean(self, value: Any) -> Any:
        for pk in value if isinstance(value, list | tuple) else ():
            if parse_id(pk) < 0:
                message = self.error_messages["invalid_pk_value"]
                raise ValidationError(message, code="invalid_pk_value", params={"pk": pk})
        return super().clean(value)


class LoginForm(AuthenticationForm):
    username = forms.CharField(label=_("Username"), max_length=150, widget=forms.TextInput(attrs={"autofocus": True}))


class DepartmentForm(StyledForm):
    name = forms.CharField(label=_("Name"), max_length=120)


class InvitationForm(StyledForm):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.AGENT)
    departments = IdModelMultipleChoiceField(
        label=_("Departments"), queryset=Department.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, organization: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        departments = cast(IdModelMultipleChoiceField, self.fields["departments"])
        departments.queryset = department_list(organization=organization)


class InvitationSignupForm(StyledForm):
    """A new person's own account, made from an invitation link (the address is the invited one)."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    username = forms.RegexField(
        label=_("Username"),
        regex=r"^[\w.@+-]+\Z",
        max_length=150,
        help_text=_("Letters, digits and @/./+/-/_ only."),
        error_messages={"invalid": _("Use letters, digits and @/./+/-/_ only.")},
    )
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), max_length=128
    )
    password_again = forms.CharField(
        label=_("Password again"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), max_length=128
    )

    @property
    def name_fields(self) -> list[forms.BoundField]:
        """The two name fields in the order of the language: 姓 before 名 in Japanese."""
        order = ["last_name", "first_name"] if family_name_first() else ["first_name", "last_name"]
        return [self[name] for name in order]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password_again") and data["password"] != data["password_again"]:
            self.add_error("password_again", _("The two passwords differ."))
        return data


class MemberUpdateForm(StyledForm):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    is_active = forms.BooleanField(label=_("Active"), required=False)
    departments = IdModelMultipleChoiceField(
        label=_("Departments"), queryset=Department.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, organization: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        departments = cast(IdModelMultipleChoiceField, self.fields["departments"])
        departments.queryset = department_list(organization=organization)


class PasswordResetForm(auth_forms.PasswordResetForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style_fields(self)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        """Rendered here, in the request's language; sent by a worker, so that the answer
        takes as long for an address with an account as for one without."""
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        email_send_later(subject=subject, body=body, to=[to_email])

    def full_clean(self) -> None:
        super().full_clean()
        _mark_invalid(self)


class SetPasswordForm(auth_forms.SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style_fields(self)

    def full_clean(self) -> None:
        super().full_clean()
        _mark_invalid(self)


class ApiTokenForm(StyledForm):
    name = forms.CharField(label=_("Token name"), max_length=100)


def _time_zone_choices(blank_label: str | None) -> list[tuple[str, str]]:
    choices = [(name, name.replace("_", " ")) for name in datetimes.time_zone_names()]
    return [("", blank_label), *choices] if blank_label is not None else choices


class OrganizationForm(StyledForm):
    """The organization's name, language and time zone (admins)."""

    name = forms.CharField(label=_("Name"), max_length=200)
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        help_text=_("Members read the helpdesk and its emails in it unless they chose their own in Preferences."),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("Times are shown in it unless a member chose their own in Preferences."),
    )
    unassigned_alert_minutes = forms.IntegerField(
        label=_("Alert admins of a conversation unassigned for (minutes)"),
        # Left out (an older form, a script): kept as it is.
        required=False,
        min_value=UNASSIGNED_ALERT_MIN_MINUTES,
        max_value=UNASSIGNED_ALERT_MAX_MINUTES,
        help_text=_(
            "Admins who work in its department (all admins when none does) are told once, until it is assigned."
        ),
    )
    # Messenger's reply windows (messenger.window_alerts); left out: kept as they are.
    response_window_alert_minutes = forms.IntegerField(
        label=_("Alert before the 24-hour reply window closes (minutes)"),
        required=False,
        min_value=RESPONSE_WINDOW_ALERT_MIN_MINUTES,
        max_value=RESPONSE_WINDOW_ALERT_MAX_MINUTES,
        help_text=_(
            "A conversation whose customer is still unanswered is flagged “Window closing” this long before, "
            "and its assignee (its department's admins when unassigned) is told once per customer message."
        ),
    )
    human_agent_window_alert_hours = forms.IntegerField(
        label=_("Alert before the 7-day human agent window closes (hours)"),
        required=False,
        min_value=HUMAN_AGENT_WINDOW_ALERT_MIN_HOURS,
        max_value=HUMAN_AGENT_WINDOW_ALERT_MAX_HOURS,
        help_text=_("After the 7-day window the customer must write first: an unanswered conversation is lost."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = _time_zone_choices(None)


class PreferencesForm(StyledForm):
    language = forms.ChoiceField(label=_("Language"), required=False)
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False)
    # helpdesk.alerts: the events the member is alerted of, and the ways.
    alert_events = forms.MultipleChoiceField(
        label=_("Alert me of"), required=False, widget=forms.CheckboxSelectMultiple
    )
    alert_ways = forms.MultipleChoiceField(label=_("Alert me"), required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, organization: Organization, is_admin: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        event_labels = {
            alerts.NEW_CONVERSATION: _("A new conversation in my queue or views"),
            alerts.CUSTOMER_MESSAGE: _("A customer's message in a conversation assigned to me"),
            alerts.MENTION: _("A mention of me in a note"),
            alerts.UNASSIGNED_TOO_LONG: _("A conversation left unassigned too long"),
            alerts.WINDOW_CLOSING: _("A reply window about to close on an unanswered customer"),
            alerts.SLA: _("An SLA target at risk or breached"),
        }
        cast(forms.MultipleChoiceField, self.fields["alert_events"]).choices = [
            (event, event_labels[event]) for event in alerts.EVENTS if is_admin or event not in alerts.ADMIN_EVENTS
        ]
        cast(forms.MultipleChoiceField, self.fields["alert_ways"]).choices = [
            (alerts.IN_APP, _("In the app (the bell)")),
            (alerts.DESKTOP, _("Desktop notification")),
            (alerts.SOUND, _("Sound")),
            (alerts.EMAIL, _("Email")),
        ]
        languages = dict(settings.LANGUAGES)
        cast(forms.ChoiceField, self.fields["language"]).choices = [
            ("", _("Organization default (%(language)s)") % {"language": languages.get(organization.language, "")}),
            *settings.LANGUAGES,
        ]
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = _time_zone_choices(
            _("Organization default (%(time_zone)s)") % {"time_zone": organization.time_zone}
        )


def attach_error(form: forms.Form, error: HelpdeskError) -> None:
    """A domain error on a form: under the fields its details name, else above the form."""
    details = error.details if isinstance(error.details, dict) else {}
    placed = False
    for field, field_errors in details.items():
        if field in form.fields:
            for message in field_errors if isinstance(field_errors, list) else [field_errors]:
                form.add_error(field, str(message))
            placed = True
    if not placed:
        form.add_error(None, str(error.message))
