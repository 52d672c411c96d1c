"""The customer's ratings shown on the conversation page and the ticket page (htmx partials
they load)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from csat import selectors
from helpdesk.exceptions import http_errors
from helpdesk.tenancy import TenantRequest, member_required
from messenger.selectors import conversations as conversation_selectors
from tickets import selectors as ticket_selectors


@member_required
@require_GET
@http_errors
def conversation_rating(request: TenantRequest, conversation_id: int) -> HttpResponse:
    organization = request.organization
    conversation = conversation_selectors.conversation_get_bare(
        organization=organization, membership=request.membership, conversation_id=conversation_id
    )
    surveys = selectors.conversation_surveys(organization=organization, conversation=conversation)[:5]
    return render(request, "csat/_ratings.html", {"surveys": surveys, "heading_id": "conversation-rating-heading"})


@member_required
@require_GET
@http_errors
def ticket_rating(request: TenantRequest, ticket_id: int) -> HttpResponse:
    organization = request.organization
    ticket = ticket_selectors.ticket_get(organization=organization, membership=request.membership, ticket_id=ticket_id)
    surveys = selectors.ticket_surveys(organization=organization, ticket=ticket)[:5]
    return render(
        request, "csat/_ratings.html", {"surveys": surveys, "heading_id": "ticket-rating-heading", "card": True}
    )
