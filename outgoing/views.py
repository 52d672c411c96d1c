"""Settings → Webhooks (admins): endpoints, their secret, their delivery log, "send again"."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk.exceptions import HelpdeskError, http_errors
from helpdesk.forms import attach_error
from helpdesk.tenancy import TenantRequest, admin_required
from outgoing import selectors, services
from outgoing.addresses import EndpointNotAllowed
from outgoing.forms import EndpointEditForm, EndpointForm
from outgoing.models import WebhookEndpoint

LOG_ROWS = 50


def _refusal(form: EndpointForm, error: HelpdeskError) -> None:
    if isinstance(error, EndpointNotAllowed):
        form.add_error("url", str(error.message))
    elif isinstance(error, services.InvalidEventTypes):
        form.add_error("events", str(error.message))
    else:
        attach_error(form, error)


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def endpoint_list(request: TenantRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                endpoint = services.endpoint_create(
                    organization=request.organization,
                    acting_user=request.user,
                    url=form.cleaned_data["url"],
                    description=form.cleaned_data["description"],
                    events=form.cleaned_data["events"],
                )
            except HelpdeskError as error:
                _refusal(form, error)
                status = error.status
            else:
                messages.success(request, _("Webhook endpoint added. Its secret is shown below."))
                _secret_show_once(request, endpoint)
                return redirect("outgoing:endpoint_detail", org_slug=request.organization.slug, endpoint_id=endpoint.pk)
        else:
            status = 400
    return render(
        request,
        "outgoing/endpoint_list.html",
        {
            "endpoints": selectors.endpoint_list(organization=request.organization),
            "form": form,
            "settings_tab": "webhooks",
        },
        status=status,
    )


# The secret is shown once, on the page that follows its making (creation or rotation): the
# session carries it to that page only. Afterwards only its last characters are shown.
_SECRET_SESSION_KEY = "outgoing_secret_once"


def _secret_show_once(request: TenantRequest, endpoint: WebhookEndpoint) -> None:
    request.session[_SECRET_SESSION_KEY] = {"endpoint": endpoint.pk, "secret": endpoint.secret}


def _secret_shown(request: TenantRequest, endpoint: WebhookEndpoint) -> str:
    once = request.session.get(_SECRET_SESSION_KEY)
    if not isinstance(once, dict) or once.get("endpoint") != endpoint.pk:
        return ""
    del request.session[_SECRET_SESSION_KEY]
    return str(once.get("secret", ""))


def _detail_page(
    request: TenantRequest, endpoint: WebhookEndpoint, form: EndpointEditForm, status: int = 200
) -> HttpResponse:
    deliveries = selectors.delivery_list(organization=request.organization, endpoint=endpoint)[:LOG_ROWS]
    return render(
        request,
        "outgoing/endpoint_detail.html",
        {
            "endpoint": endpoint,
            "form": form,
            "deliveries": deliveries,
            "settings_tab": "webhooks",
            "secret_once": _secret_shown(request, endpoint),
            "secret_hint": endpoint.secret[-4:],
        },
        status=status,
    )


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def endpoint_detail(request: TenantRequest, endpoint_id: int) -> HttpResponse:
    """The endpoint, its form, its latest deliveries; POST `action`: save, rotate, delete."""
    organization = request.organization
    endpoint = selectors.endpoint_get(organization=organization, endpoint_id=endpoint_id)
    action = request.POST.get("action", "save")
    if request.method == "POST" and action == "delete":
        services.endpoint_delete(organization=organization, endpoint=endpoint)
        messages.success(request, _("Webhook endpoint deleted."))
        return redirect("outgoing:endpoint_list", org_slug=organization.slug)
    if request.method == "POST" and action == "rotate":
        endpoint = services.endpoint_secret_rotate(organization=organization, endpoint=endpoint)
        messages.success(request, _("A new secret was made; deliveries are signed with it from now on."))
        _secret_show_once(request, endpoint)
        return redirect("outgoing:endpoint_detail", org_slug=organization.slug, endpoint_id=endpoint.pk)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "enabled": endpoint.enabled,
    }
    if request.method != "POST":
        return _detail_page(request, endpoint, EndpointEditForm(initial=initial))
    form = EndpointEditForm(request.POST, initial=initial)
    if not form.is_valid():
        return _detail_page(request, endpoint, form, status=400)
    try:
        services.endpoint_update(
            organization=organization,
            endpoint=endpoint,
            url=form.cleaned_data["url"],
            description=form.cleaned_data["description"],
            events=form.cleaned_data["events"],
            enabled=form.cleaned_data["enabled"],
        )
    except HelpdeskError as error:
        _refusal(form, error)
        endpoint.refresh_from_db()
        return _detail_page(request, endpoint, form, status=error.status)
    messages.success(request, _("Webhook endpoint saved."))
    return redirect("outgoing:endpoint_detail", org_slug=organization.slug, endpoint_id=endpoint.pk)


@admin_required
@http_errors
@require_POST
def delivery_send_again(request: TenantRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    organization = request.organization
    endpoint = selectors.endpoint_get(organization=organization, endpoint_id=endpoint_id)
    delivery = selectors.delivery_get(organization=organization, endpoint=endpoint, delivery_id=delivery_id)
    services.delivery_send_again(organization=organization, delivery=delivery)
    messages.success(request, _("The event will be sent again."))
    return redirect("outgoing:endpoint_detail", org_slug=organization.slug, endpoint_id=endpoint.pk)
