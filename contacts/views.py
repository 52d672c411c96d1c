"""The Contacts pages: the list (searched, paged) and a contact's page (the person's
contacts across pages, their conversations and tickets as far as the member sees them,
notes, merge and unmerge)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contacts import selectors, services
from helpdesk.converters import search_term
from helpdesk.exceptions import HelpdeskError, http_errors
from helpdesk.tenancy import TenantRequest, member_required
from messenger.models import Contact

PAGE_SIZE = 25
DETAIL_LIST_SIZE = 50


def _back(request: TenantRequest, contact: Contact) -> HttpResponse:
    return redirect("contacts:detail", org_slug=request.organization.slug, contact_id=contact.pk)


@member_required
@require_GET
def contact_list(request: TenantRequest) -> HttpResponse:
    query = search_term(request.GET.get("q"), max_length=selectors.SEARCH_MAX_LENGTH)
    contacts = selectors.contact_list(organization=request.organization, membership=request.membership, query=query)
    page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "contacts/list.html", {"page": page, "query": query})


@member_required
@require_GET
@http_errors
def contact_detail(request: TenantRequest, contact_id: int) -> HttpResponse:
    organization, membership = request.organization, request.membership
    contact = selectors.contact_get(organization=organization, membership=membership, contact_id=contact_id)
    return render(request, "contacts/detail.html", _detail_context(request, contact))


def _detail_context(request: TenantRequest, contact: Contact) -> dict[str, Any]:
    organization, membership = request.organization, request.membership
    person_contacts = selectors.person_contact_list(organization=organization, membership=membership, contact=contact)
    merge_query = search_term(request.GET.get("merge_q"), max_length=selectors.SEARCH_MAX_LENGTH)
    return {
        "contact": contact,
        "person_contacts": person_contacts,
        "is_merged": selectors.person_id_of(organization=organization, contact=contact) is not None,
        "conversations": list(
            selectors.contact_conversation_list(
                organization=organization, membership=membership, contacts=person_contacts
            )[:DETAIL_LIST_SIZE]
        ),
        "tickets": list(
            selectors.contact_ticket_list(organization=organization, membership=membership, contacts=person_contacts)[
                :DETAIL_LIST_SIZE
            ]
        ),
        "notes": list(selectors.note_list(organization=organization, contact=contact)),
        "merge_query": merge_query,
        "merge_candidates": selectors.merge_candidate_list(
            organization=organization, membership=membership, contact=contact, query=merge_query
        ),
    }


@member_required
@require_POST
@http_errors
def note_add(request: TenantRequest, contact_id: int) -> HttpResponse:
    organization = request.organization
    contact = selectors.contact_get(organization=organization, membership=request.membership, contact_id=contact_id)
    try:
        services.contact_note_create(
            organization=organization, acting_user=request.user, contact=contact, text=request.POST.get("text")
        )
    except HelpdeskError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Note added."))
    return _back(request, contact)


@member_required
@require_POST
@http_errors
def note_edit(request: TenantRequest, contact_id: int, note_id: int) -> HttpResponse:
    """Change (action=save) or delete (action=delete) one's own note."""
    organization = request.organization
    contact = selectors.contact_get(organization=organization, membership=request.membership, contact_id=contact_id)
    note = selectors.note_get(organization=organization, contact=contact, note_id=note_id)
    try:
        if request.POST.get("action") == "delete":
            services.contact_note_delete(organization=organization, acting_user=request.user, note=note)
            messages.success(request, _("Note deleted."))
        else:
            services.contact_note_update(
                organization=organization, acting_user=request.user, note=note, text=request.POST.get("text")
            )
            messages.success(request, _("Note saved."))
    except HelpdeskError as error:
        messages.error(request, str(error.message))
    return _back(request, contact)


@member_required
@require_POST
@http_errors
def contact_merge(request: TenantRequest, contact_id: int) -> HttpResponse:
    """Merge the contact with another the member sees (POST `other`)."""
    organization, membership = request.organization, request.membership
    contact = selectors.contact_get(organization=organization, membership=membership, contact_id=contact_id)
    other = selectors.contact_get(
        organization=organization, membership=membership, contact_id=request.POST.get("other")
    )
    try:
        services.contacts_merge(
            organization=organization, membership=membership, acting_user=request.user, contact=contact, other=other
        )
    except HelpdeskError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The contacts are merged: they are one person now."))
    return _back(request, contact)


@member_required
@require_POST
@http_errors
def contact_unmerge(request: TenantRequest, contact_id: int) -> HttpResponse:
    organization, membership = request.organization, request.membership
    contact = selectors.contact_get(organization=organization, membership=membership, contact_id=contact_id)
    try:
        services.contact_unmerge(
            organization=organization, membership=membership, acting_user=request.user, contact=contact
        )
    except HelpdeskError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The contact is no longer merged with the others."))
    return _back(request, contact)
