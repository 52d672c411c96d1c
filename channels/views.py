"""Settings pages of the channels app: Channels (list, create, edit, disable, enable,
delete, remove a page), Agents (who answers which channel), Tickets (per-department
delay before an idle chat becomes a ticket) and Business hours (per department). Admins
only, but for a channel's icon, which every member of the organization may see (the inbox
shows it).

Linking Facebook Pages is Messenger's business: the pages here link to messenger's
OAuth URLs, and the pages' data comes through the channel kind's backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from channels import hours, selectors, services
from channels.forms import (
    ASSIGNMENT_HELP,
    AgentChannelsForm,
    AssignmentModeForm,
    BusinessHoursForm,
    ChannelForm,
    IdMultipleChoiceField,
    TicketDelayForm,
)
from channels.icons import channel_icon_response
from channels.kinds import backend_for
from channels.message_text import MAX_TEXT_LENGTH
from channels.models import AssignmentMode, Channel, ChannelKind
from helpdesk.exceptions import ChannelLimitReached, HelpdeskError, NotFound, http_errors
from helpdesk.forms import attach_error
from helpdesk.names import user_name
from helpdesk.selectors import department_list
from helpdesk.tenancy import TenantRequest, admin_required, member_required


def _slug(request: TenantRequest) -> str:
    return request.organization.slug


# --- Channels ----------------------------------------------------------------------------


@member_required
@require_GET
def channel_icon(request: TenantRequest, channel_id: int) -> FileResponse:
    """Any member of the organization may see its channels' icons (the inbox shows them)."""
    try:
        return channel_icon_response(organization=request.organization, channel_id=channel_id)
    except NotFound:
        raise Http404 from None


@admin_required
@require_http_methods(["GET"])
def channel_overview(request: TenantRequest) -> HttpResponse:
    """Settings → Channels: the kinds of channel, grouped as a support admin expects them."""
    organization = request.organization
    count = selectors.channel_list(organization=organization, kind=ChannelKind.MESSENGER).count()
    return render(
        request,
        "channels/overview.html",
        {
            "messenger_count": count,
            "quota": selectors.channel_quota(organization=organization),
            "settings_tab": "channels",
        },
    )


@admin_required
@require_http_methods(["GET"])
def channel_list(request: TenantRequest) -> HttpResponse:
    """The organization's Messenger channels, with their pages' statuses."""
    organization = request.organization
    channels = list(selectors.channel_list(organization=organization, kind=ChannelKind.MESSENGER))
    pages = backend_for(ChannelKind.MESSENGER).pages_by_channel(
        organization=organization, channel_ids=[channel.pk for channel in channels]
    )
    rows = [(channel, pages.get(channel.pk, [])) for channel in channels]
    return render(
        request,
        "channels/channel_list.html",
        {"rows": rows, "quota": selectors.channel_quota(organization=organization), "settings_tab": "channels"},
    )


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def channel_create(request: TenantRequest) -> HttpResponse:
    organization = request.organization
    form = ChannelForm(request.POST or None, request.FILES or None, organization=organization)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                channel = services.channel_create(
                    organization=organization,
                    acting_user=request.user,
                    name=form.cleaned_data["name"],
                    department_id=form.cleaned_data["department"],
                    icon=form.cleaned_data["icon"],
                )
            except ChannelLimitReached as error:
                form.add_error(None, str(error.message))
                status = 409
            except NotFound:
                raise
            except HelpdeskError as error:
                attach_error(form, error)
                status = error.status
            else:
                if request.POST.get("then") == "link_page":
                    messages.success(request, _("Channel created. Now choose the Facebook Pages to link."))
                    return redirect("messenger:page_link", org_slug=organization.slug, channel_id=channel.pk)
                messages.success(request, _("Channel created."))
                return redirect("channels:channel_edit", org_slug=organization.slug, channel_id=channel.pk)
        else:
            status = 400
    return render(
        request,
        "channels/channel_form.html",
        {
            "form": form,
            "channel": None,
            "quota": selectors.channel_quota(organization=organization),
            "settings_tab": "channels",
        },
        status=status,
    )


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def channel_edit(request: TenantRequest, channel_id: int) -> HttpResponse:
    organization = request.organization
    channel = selectors.channel_get(organization=organization, channel_id=channel_id)
    initial = {
        "name": channel.name,
        "department": channel.department_id,
        "assignment_mode": channel.assignment_mode,
        "asks_for_rating": channel.asks_for_rating,
    }
    form = ChannelForm(request.POST or None, request.FILES or None, organization=organization, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            changes: dict[str, Any] = {}
            if form.cleaned_data["icon"] is not None:
                changes["icon"] = form.cleaned_data["icon"]
            elif form.cleaned_data["remove_icon"]:
                changes["icon"] = None
            try:
                services.channel_update(
                    organization=organization,
                    acting_user=request.user,
                    channel=channel,
                    name=form.cleaned_data["name"],
                    department_id=form.cleaned_data["department"],
                    assignment_mode=form.cleaned_data["assignment_mode"] or None,
                    asks_for_rating=form.cleaned_data["asks_for_rating"],
                    **changes,
                )
            except NotFound:
                raise
            except HelpdeskError as error:
                attach_error(form, error)
                status = error.status
            else:
                messages.success(request, _("Channel saved."))
                return redirect("channels:channel_edit", org_slug=organization.slug, channel_id=channel.pk)
        else:
            status = 400
    backend = backend_for(channel.kind)
    pages = backend.pages_by_channel(organization=organization, channel_ids=[channel.pk], include_removed=True).get(
        channel.pk, []
    )
    return render(
        request,
        "channels/channel_form.html",
        {
            "form": form,
            "channel": channel,
            "linked_pages": [page for page in pages if page.is_linked],
            "removed_pages": [page for page in pages if not page.is_linked],
            "settings_tab": "channels",
        },
        status=status,
    )


_ACTIONS: dict[str, Callable[..., Channel]] = {
    "disable": services.channel_disable,
    "enable": services.channel_enable,
    "delete": services.channel_delete,
}


def _channel_action(request: TenantRequest, channel_id: int, action: str) -> HttpResponse:
    """GET: a confirmation page (for browsers without JavaScript; others use a modal). POST: act."""
    organization = request.organization
    channel = selectors.channel_get(organization=organization, channel_id=channel_id)
    if request.method == "POST":
        _ACTIONS[action](organization=organization, acting_user=request.user, channel=channel)
        messages.success(request, _done_message(action))
        if action == "delete" or request.POST.get("next") == "list":
            return redirect("channels:channel_list", org_slug=organization.slug)
        return redirect("channels:channel_edit", org_slug=organization.slug, channel_id=channel.pk)
    return render(
        request,
        "channels/channel_confirm.html",
        {"channel": channel, "action": action, "settings_tab": "channels"},
    )


def _done_message(action: str) -> str:
    if action == "disable":
        return _("Channel disabled: it no longer sends or receives messages.")
    if action == "enable":
        return _("Channel enabled.")
    return _("Channel deleted. Its conversations stay readable.")


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def channel_disable(request: TenantRequest, channel_id: int) -> HttpResponse:
    return _channel_action(request, channel_id, "disable")


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def channel_enable(request: TenantRequest, channel_id: int) -> HttpResponse:
    return _channel_action(request, channel_id, "enable")


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def channel_delete(request: TenantRequest, channel_id: int) -> HttpResponse:
    return _channel_action(request, channel_id, "delete")


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def page_remove(request: TenantRequest, channel_id: int, page_pk: int) -> HttpResponse:
    """Remove a page from the channel (GET: confirmation page without JavaScript)."""
    organization = request.organization
    channel = selectors.channel_get(organization=organization, channel_id=channel_id)
    backend = backend_for(channel.kind)
    pages = backend.pages_by_channel(organization=organization, channel_ids=[channel.pk]).get(channel.pk, [])
    page = next((page for page in pages if page.id == page_pk), None)
    if page is None:
        raise Http404
    if request.method == "POST":
        backend.page_remove(organization=organization, acting_user=request.user, channel=channel, page_pk=page_pk)
        messages.success(
            request,
            _("“%(page)s” was removed from the channel. Its conversations are kept.") % {"page": page.name},
        )
        return redirect("channels:channel_edit", org_slug=organization.slug, channel_id=channel.pk)
    return render(
        request,
        "channels/page_remove_confirm.html",
        {"channel": channel, "page": page, "settings_tab": "channels"},
    )


# --- Agents ------------------------------------------------------------------------------


def _chosen_department(request: TenantRequest, raw: Any) -> Any:
    """The departments and the one asked for; by default the first where agents work."""
    organization = request.organization
    departments = list(department_list(organization=organization))
    if raw in (None, ""):
        staffed = selectors.department_ids_with_agents(organization=organization)
        first = next((department for department in departments if department.pk in staffed), None)
        return departments, first or (departments[0] if departments else None)
    chosen = next((department for department in departments if str(department.pk) == str(raw)), None)
    if chosen is None:
        raise Http404
    return departments, chosen


@admin_required
@require_http_methods(["GET"])
def agent_list(request: TenantRequest) -> HttpResponse:
    """Settings → Agents: per department, which channels each agent answers."""
    organization = request.organization
    departments, department = _chosen_department(request, request.GET.get("department"))
    agents: list[Any] = []
    channels: list[Channel] = []
    if department is not None:
        channels = list(selectors.channel_list(organization=organization).filter(department=department))
        members = list(selectors.department_agent_list(organization=organization, department_id=department.pk))
        links = selectors.agent_channel_ids(organization=organization, membership_ids=[m.pk for m in members])
        agents = [
            (member, [channel for channel in channels if channel.pk in links.get(member.pk, set())])
            for member in members
        ]
    return render(
        request,
        "channels/agents.html",
        {
            "departments": departments,
            "department": department,
            "agents": agents,
            "channels": channels,
            "assignment_modes": AssignmentMode.choices,
            "assignment_help": ASSIGNMENT_HELP,
            "settings_tab": "agents",
        },
    )


@admin_required
@http_errors
@require_http_methods(["POST"])
def channel_assignment(request: TenantRequest, channel_id: int) -> HttpResponse:
    """The Agents tab's choice of a channel's automatic assignment (back to the tab)."""
    organization = request.organization
    channel = selectors.channel_get(organization=organization, channel_id=channel_id)
    form = AssignmentModeForm(request.POST)
    if form.is_valid():
        services.channel_assignment_mode_set(
            organization=organization,
            acting_user=request.user,
            channel=channel,
            mode=form.cleaned_data["assignment_mode"],
        )
        messages.success(request, _("Automatic assignment of %(channel)s saved.") % {"channel": channel.name})
    else:
        messages.error(request, _("Choose off, round robin or least loaded."))
    return redirect(f"{_agents_url(organization)}?department={channel.department_id}")


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def agent_channels(request: TenantRequest, membership_id: int) -> HttpResponse:
    """The channel picker of one agent in one department (the Agents tab's modal, as a page)."""
    organization = request.organization
    raw_department = request.POST.get("department") if request.method == "POST" else request.GET.get("department")
    _departments, department = _chosen_department(request, raw_department)
    if department is None:
        raise Http404
    member = (
        selectors.department_agent_list(organization=organization, department_id=department.pk)
        .filter(pk=membership_id)
        .first()
    )
    if member is None:
        raise Http404
    channels = list(selectors.channel_list(organization=organization).filter(department=department))
    form = AgentChannelsForm(request.POST or None, initial={"department": department.pk})
    cast(IdMultipleChoiceField, form.fields["channels"]).choices = [(channel.pk, channel.name) for channel in channels]
    if request.method == "POST":
        if form.is_valid():
            services.agent_channels_set(
                organization=organization,
                acting_user=request.user,
                membership=member,
                department_id=department.pk,
                channel_ids=form.cleaned_data["channels"],
            )
            messages.success(
                request,
                _("Channels of %(agent)s saved.") % {"agent": user_name(member.user)},
            )
            return redirect(f"{_agents_url(organization)}?department={department.pk}")
        return render(
            request, "channels/agent_channels.html", _picker_context(member, department, channels, form), status=400
        )
    current = selectors.agent_channel_ids(organization=organization, membership_ids=[member.pk]).get(member.pk, set())
    form.initial["channels"] = [pk for pk in current if any(channel.pk == pk for channel in channels)]
    return render(request, "channels/agent_channels.html", _picker_context(member, department, channels, form))


def _picker_context(member: Any, department: Any, channels: list[Channel], form: Any) -> dict[str, Any]:
    return {"member": member, "department": department, "channels": channels, "form": form, "settings_tab": "agents"}


def _agents_url(organization: Any) -> str:
    return reverse("channels:agent_list", kwargs={"org_slug": organization.slug})


# --- Tickets -----------------------------------------------------------------------------


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def ticket_settings(request: TenantRequest) -> HttpResponse:
    """Settings → Tickets: per department, how long a chat may stay idle before it becomes a ticket."""
    organization = request.organization
    departments = selectors.department_settings_list(organization=organization)
    form = TicketDelayForm(request.POST or None, departments=departments)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            current = {department.pk: minutes for department, minutes in departments}
            for department_id, minutes in form.delays().items():
                if current.get(department_id) != minutes:
                    services.department_ticket_delay_set(
                        organization=organization,
                        acting_user=request.user,
                        department_id=department_id,
                        minutes=minutes,
                    )
            messages.success(request, _("Ticket settings saved."))
            return redirect("channels:ticket_settings", org_slug=organization.slug)
        status = 400
    return render(request, "channels/tickets.html", {"form": form, "settings_tab": "tickets"}, status=status)


# --- Business hours ----------------------------------------------------------------------


@admin_required
@require_http_methods(["GET"])
def business_hours_list(request: TenantRequest) -> HttpResponse:
    """Settings → Business hours: each department, whether it uses business hours, and
    whether it is open now."""
    organization = request.organization
    now = timezone.now()
    schedules = hours.schedules_by_department(organization=organization)
    rows = []
    for department in department_list(organization=organization):
        schedule = schedules.get(department.pk)
        opening = None if schedule is None else hours.next_opening(schedule, now)
        rows.append((department, schedule, opening, opening is not None and opening <= now))
    return render(
        request,
        "channels/business_hours_list.html",
        {"rows": rows, "time_zone": organization.time_zone, "settings_tab": "business_hours"},
    )


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def business_hours_edit(request: TenantRequest, department_id: int) -> HttpResponse:
    """One department's week, holidays and out-of-hours reply."""
    organization = request.organization
    department = department_list(organization=organization).filter(pk=department_id).first()
    if department is None:
        raise Http404
    current = hours.business_hours_get(organization=organization, department_id=department.pk)
    form = BusinessHoursForm(request.POST or None, initial=BusinessHoursForm.initial_for(current))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.business_hours_set(
                    organization=organization,
                    acting_user=request.user,
                    department_id=department.pk,
                    is_enabled=form.cleaned_data["is_enabled"],
                    intervals=form.intervals(),
                    holidays=form.cleaned_data["holidays"],
                    out_of_hours_reply_en=form.cleaned_data["out_of_hours_reply_en"],
                    out_of_hours_reply_ja=form.cleaned_data["out_of_hours_reply_ja"],
                )
            except NotFound:
                raise
            except HelpdeskError as error:
                attach_error(form, error)
                status = error.status
            else:
                messages.success(
                    request, _("Business hours of %(department)s saved.") % {"department": department.name}
                )
                return redirect("channels:business_hours_edit", org_slug=organization.slug, department_id=department.pk)
        else:
            status = 400
    return render(
        request,
        "channels/business_hours_form.html",
        {
            "form": form,
            "department": department,
            "time_zone": organization.time_zone,
            "max_length": MAX_TEXT_LENGTH,
            "settings_tab": "business_hours",
        },
        status=status,
    )
