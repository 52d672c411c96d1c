"""The reports' period picker."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import pgettext_lazy

from helpdesk.exceptions import InvalidInput, InvalidPeriod
from reports import selectors
from reports.selectors import GROUP_LABELS, Group, Period, Report


class ReportForm(forms.Form):
    start = forms.DateField(
        label=pgettext_lazy("report period", "From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(label=pgettext_lazy("report period", "To"), widget=forms.DateInput(attrs={"type": "date"}))
    group = forms.ChoiceField(label=pgettext_lazy("report period", "By"))

    def __init__(self, *args: Any, report: Report, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.report = report
        cast(forms.ChoiceField, self.fields["group"]).choices = [
            (group.value, GROUP_LABELS[group]) for group in report.groups
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            try:
                cleaned["period"] = selectors.period_check(start=start, end=end)
            except InvalidPeriod as error:
                self.add_error("end", str(error.message))
        return cleaned

    @property
    def period(self) -> Period:
        period: Period = self.cleaned_data["period"]
        return period

    @property
    def group_value(self) -> Group:
        try:
            return selectors.group_check(self.report, self.cleaned_data["group"])
        except InvalidInput:  # pragma: no cover (the field's choices are the report's groups)
            return self.report.groups[0]
