"""REST API of the reports: `/api/v1/reports/<name>/?start=&end=&group=`, the figures as JSON
(the same as the page's table and its CSV; durations in seconds)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import OrganizationAPIView
from helpdesk.drf import ErrorSerializer
from reports import selectors
from reports.selectors import GROUP_LABELS, Group, Unit


class ReportInputSerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="First day (the organization's), default four weeks ago.")
    end = serializers.DateField(required=False, help_text="Last day, included; default today. At most two years.")
    group = serializers.ChoiceField(
        choices=[group.value for group in Group], required=False, help_text="The report's first group by default."
    )


class ReportSerializer(serializers.Serializer):
    report = serializers.CharField()
    title = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    group = serializers.CharField()
    group_label = serializers.CharField()
    time_zone = serializers.CharField()
    facts_refreshed_at = serializers.DateTimeField(allow_null=True)
    # Inline: a field named `label` would shadow the serializer's own.
    columns = inline_serializer(
        "ReportColumn",
        fields={
            "name": serializers.CharField(),
            "label": serializers.CharField(),
            "unit": serializers.ChoiceField(choices=[unit.value for unit in Unit]),
        },
        many=True,
    )
    rows = inline_serializer(
        "ReportRow",
        fields={
            "key": serializers.JSONField(
                help_text="The day or week (ISO date), or the channel's, department's, user's id."
            ),
            "label": serializers.CharField(),
            "values": serializers.DictField(child=serializers.FloatField(allow_null=True)),
        },
        many=True,
    )


class ReportView(OrganizationAPIView):
    @extend_schema(
        summary="A report over a period",
        description=(
            f"Reports: {', '.join(f'`{name}`' for name in selectors.REPORTS)}. Admins read the organization's "
            "figures, agents their own."
        ),
        parameters=[ReportInputSerializer, OpenApiParameter("report_name", str, OpenApiParameter.PATH)],
        responses={
            200: ReportSerializer,
            400: OpenApiResponse(ErrorSerializer, description="invalid_period, invalid (an unknown group)."),
            404: OpenApiResponse(ErrorSerializer, description="No such report."),
        },
    )
    def get(self, request: Request, report_name: str) -> Response:
        report = selectors.report_get(report_name)
        data = ReportInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = data.validated_data
        default = selectors.default_period(organization=self.organization)
        period = selectors.period_check(start=values.get("start", default.start), end=values.get("end", default.end))
        group = selectors.group_check(report, values.get("group"))
        table = selectors.report_table(
            organization=self.organization, membership=self.membership, report=report, period=period, group=group
        )
        body = {
            "report": report.name,
            "title": str(report.title),
            "start": period.start,
            "end": period.end,
            "group": group.value,
            "group_label": str(GROUP_LABELS[group]),
            "time_zone": self.organization.time_zone or "UTC",
            "facts_refreshed_at": table.facts_refreshed_at,
            "columns": [
                {"name": metric.name, "label": str(metric.label), "unit": metric.unit.value}
                for metric in report.metrics
            ],
            "rows": [
                {
                    "key": row.key.isoformat() if hasattr(row.key, "isoformat") else row.key,
                    "label": row.label,
                    "values": row.values,
                }
                for row in table.rows
            ],
        }
        return Response(ReportSerializer(body).data)
