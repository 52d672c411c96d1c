"""The reports' pages: a report over a chosen period (chart and table), and its CSV."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from helpdesk.exceptions import http_errors
from helpdesk.tenancy import TenantRequest, member_required
from reports import presentation, selectors
from reports.forms import ReportForm
from reports.selectors import REPORTS, Report


def _form(request: TenantRequest, report: Report) -> ReportForm:
    """The period picker, bound to the query string over the defaults (the last four weeks)."""
    default = selectors.default_period(organization=request.organization)
    data: dict[str, str] = {
        "start": default.start.isoformat(),
        "end": default.end.isoformat(),
        "group": report.groups[0].value,
    }
    data.update({key: request.GET[key] for key in data if request.GET.get(key)})
    if data["group"] not in {group.value for group in report.groups}:
        data["group"] = report.groups[0].value
    return ReportForm(data, report=report)


@member_required
@require_GET
def report_index(request: TenantRequest) -> HttpResponse:
    return HttpResponseRedirect(
        reverse("reports:report", kwargs={"org_slug": request.organization.slug, "report_name": "conversations"})
    )


@member_required
@require_GET
@http_errors
def report_page(request: TenantRequest, report_name: str) -> HttpResponse:
    report = selectors.report_get(report_name)
    form = _form(request, report)
    table = chart = None
    if form.is_valid():
        table = selectors.report_table(
            organization=request.organization,
            membership=request.membership,
            report=report,
            period=form.period,
            group=form.group_value,
        )
        chart = presentation.bar_chart(table, chart_id=f"chart-{report.name}") if table.rows else None
    context = {
        "reports": REPORTS.values(),
        "report": report,
        "form": form,
        "table": table,
        "chart": chart,
        "rows": presentation.display_rows(table) if table else [],
        "query": request.GET.urlencode(),
    }
    return render(request, "reports/report.html", context, status=200 if form.is_valid() else 400)


@member_required
@require_GET
@http_errors
def report_csv(request: TenantRequest, report_name: str) -> HttpResponse:
    report = selectors.report_get(report_name)
    form = _form(request, report)
    if not form.is_valid():
        return HttpResponseBadRequest(
            "; ".join(str(error) for errors in form.errors.values() for error in errors),
            content_type="text/plain; charset=utf-8",
        )
    table = selectors.report_table(
        organization=request.organization,
        membership=request.membership,
        report=report,
        period=form.period,
        group=form.group_value,
    )
    response = HttpResponse(presentation.csv_text(table), content_type="text/csv; charset=utf-8")
    filename = f"{report.name}-{form.period.start.isoformat()}-{form.period.end.isoformat()}-{table.query.group}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
