"""Forms of the ticket pages: the list's filters and a ticket's priority and assignee."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from channels.models import Channel
from helpdesk.converters import parse_id
from helpdesk.forms import StyledForm
from helpdesk.models import Department, Membership
from helpdesk.names import user_name
from labels.models import Label
from sla.state import SlaStatus
from sla.state import status_parse as sla_status_parse
from tickets.models import SUBJECT_MAX_LENGTH, TicketPriority, TicketState
from tickets.selectors import TicketFilters

ASSIGNEE_ME = "me"
ASSIGNEE_NONE = "none"


def _member_label(member: Membership) -> str:
    return user_name(member.user)


def _channel_label(channel: Channel) -> str:
    return str(_("%(name)s (deleted)") % {"name": channel.name}) if channel.deleted_at else channel.name


class TicketFilterForm(StyledForm):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("Any state")), *TicketState.choices])
    department = forms.TypedChoiceField(label=_("Department"), required=False, coerce=int, empty_value=None)
    channel = forms.TypedChoiceField(label=_("Channel"), required=False, coerce=int, empty_value=None)
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    label = forms.TypedMultipleChoiceField(
        label=_("Labels"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    sla = forms.ChoiceField(
        label=_("SLA state"),
        required=False,
        choices=[
            ("", _("Any SLA state")),
            (SlaStatus.AT_RISK, _("SLA at risk")),
            (SlaStatus.BREACHED, _("SLA breached")),
        ],
    )

    def __init__(
        self,
        *args: Any,
        departments: Iterable[Department],
        channels: Iterable[Channel],
        members: Iterable[Membership],
        user_id: int,
        labels: Iterable[Label] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user_id = user_id
        self.labels = list(labels)
        cast(forms.TypedMultipleChoiceField, self.fields["label"]).choices = [(lb.pk, lb.name) for lb in self.labels]
        self.fields["q"].widget.attrs.update({"type": "search", "placeholder": _("Subject, transcript or contact")})
        cast(forms.TypedChoiceField, self.fields["department"]).choices = [
            ("", _("All departments")),
            *((d.pk, d.name) for d in departments),
        ]
        cast(forms.TypedChoiceField, self.fields["channel"]).choices = [
            ("", _("All channels")),
            *((c.pk, _channel_label(c)) for c in channels),
        ]
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [
            ("", _("Anyone")),
            (ASSIGNEE_ME, _("Me")),
            (ASSIGNEE_NONE, _("Unassigned")),
            *((str(m.user_id), _member_label(m)) for m in members),
        ]

    def filters(self) -> TicketFilters:
        """The filters that are valid; an unknown value is reported and otherwise ignored."""
        self.is_valid()
        data = self.cleaned_data
        assignee = data.get("assignee") or ""
        assignee_id: int | None = None
        if assignee == ASSIGNEE_ME:
            assignee_id = self.user_id
        elif parse_id(assignee) > 0:
            assignee_id = parse_id(assignee)
        return TicketFilters(
            department_id=data.get("department"),
            state=data.get("state") or None,
            assignee_id=assignee_id,
            unassigned=assignee == ASSIGNEE_NONE,
            channel_id=data.get("channel"),
            search=data.get("q") or "",
            label_ids=tuple(sorted(set(data.get("label") or ()))),
            sla=sla_status_parse(data.get("sla")),
        )


class TicketSubjectForm(StyledForm):
    subject = forms.CharField(label=_("Subject"), max_length=SUBJECT_MAX_LENGTH, strip=True)


class TicketUpdateForm(StyledForm):
    priority = forms.ChoiceField(label=_("Priority"), choices=TicketPriority.choices)
    assignee = forms.TypedChoiceField(label=_("Assignee"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, members: Iterable[Membership], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["assignee"]).choices = [
            ("", _("Unassigned")),
            *((m.user_id, _member_label(m)) for m in members),
        ]
