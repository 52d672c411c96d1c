"""Reading canned responses: those a member may use in a conversation (the composer's
search), those they may see and manage (the settings pages and the API), and one of them."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from canned.models import CannedAttachment, CannedResponse, CannedScope
from channels.visibility import member_department_ids
from helpdesk.converters import parse_id, search_term
from helpdesk.exceptions import NotFound
from helpdesk.models import Membership, Organization
from messenger.models import Conversation

SEARCH_MAX_LENGTH = 100


def as_id(value: Any) -> int:
    return parse_id(value if isinstance(value, int) else str(value))


def usable_filter(*, membership: Membership, department_id: int | None) -> Q:
    """Usable in a conversation of this department: the organization's, the department's,
    and the member's own."""
    shared = Q(scope=CannedScope.ORGANIZATION)
    if department_id is not None:
        shared |= Q(scope=CannedScope.DEPARTMENT, department_id=department_id)
    return shared | Q(scope=CannedScope.PERSONAL, owner_id=membership.pk)


def visible_filter(*, membership: Membership) -> Q:
    """Seen on the settings page and through the API: the organization's, every department's
    for an admin (only their own departments' for an agent), and the member's own."""
    if membership.is_admin:
        departments = Q(scope=CannedScope.DEPARTMENT)
    else:
        departments = Q(scope=CannedScope.DEPARTMENT, department_id__in=member_department_ids(membership))
    return Q(scope=CannedScope.ORGANIZATION) | departments | Q(scope=CannedScope.PERSONAL, owner_id=membership.pk)


def may_manage(*, membership: Membership, canned_response: CannedResponse) -> bool:
    """Admins manage the shared ones; every member their own (an admin's own included)."""
    if canned_response.scope == CannedScope.PERSONAL:
        return canned_response.owner_id == membership.pk
    return membership.is_admin


def _term(query: str) -> str:
    return search_term(query, max_length=SEARCH_MAX_LENGTH).lstrip("/").strip()


def _search(responses: QuerySet[CannedResponse], query: str) -> QuerySet[CannedResponse]:
    """A substring of the shortcut, title or either text; shortcut prefixes first, then the
    most used. ``search_text`` is lower-cased (a trigram index on PostgreSQL serves LIKE)."""
    query = _term(query)
    if not query:
        return responses.order_by("-usage_count", "title", "pk")
    responses = responses.filter(search_text__contains=query.lower()).annotate(
        prefix_rank=Case(
            When(shortcut__istartswith=query, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    )
    return responses.order_by("prefix_rank", "-usage_count", "title", "pk")


def canned_search(
    *, organization: Organization, membership: Membership, conversation: Conversation, query: str, limit: int = 10
) -> list[CannedResponse]:
    """What the composer's ``/`` offers in this conversation (one query)."""
    if conversation.organization_id != organization.pk:
        raise NotFound
    responses = (
        CannedResponse.objects.filter(organization=organization)
        .filter(usable_filter(membership=membership, department_id=conversation.channel.department_id))
        .defer("search_text")
    )
    term = _term(query)
    if not term:
        return list(_search(responses, term)[:limit])
    # Two statements the planner can each read in order: the shortcuts that start with the
    # term, then the other matches, most used first. A common word (half the responses
    # have it) is then read along the most-used index until ten are found, instead of all
    # of its matches being ranked (one statement ordered by a computed rank).
    ordering = ("-usage_count", "title", "pk")
    first = list(
        responses.filter(shortcut__istartswith=term, search_text__contains=term.lower()).order_by(*ordering)[:limit]
    )
    rest = (
        responses.filter(search_text__contains=term.lower())
        .exclude(pk__in=[response.pk for response in first])
        .order_by(*ordering)[: limit - len(first)]
    )
    return first + list(rest) if len(first) < limit else first


def canned_usable_get(
    *, organization: Organization, membership: Membership, conversation: Conversation, canned_id: Any
) -> CannedResponse:
    """One response the member may use in this conversation, or NotFound."""
    if conversation.organization_id != organization.pk:
        raise NotFound
    response = (
        CannedResponse.objects.filter(organization=organization, pk=as_id(canned_id))
        .filter(usable_filter(membership=membership, department_id=conversation.channel.department_id))
        .prefetch_related("attachments")
        .first()
    )
    if response is None:
        raise NotFound
    return response


def canned_list(
    *, organization: Organization, membership: Membership, query: str = "", scope: str = ""
) -> QuerySet[CannedResponse]:
    """The responses the member sees on the settings page (and the API), searched."""
    responses = CannedResponse.objects.filter(organization=organization).filter(visible_filter(membership=membership))
    if scope:
        responses = responses.filter(scope=scope)
    return _search(responses, query).select_related("department").prefetch_related("attachments")


def canned_get(*, organization: Organization, membership: Membership, canned_id: Any) -> CannedResponse:
    """One response the member may see, or NotFound (never a hint that it exists)."""
    response = (
        CannedResponse.objects.filter(organization=organization, pk=as_id(canned_id))
        .filter(visible_filter(membership=membership))
        .select_related("department")
        .prefetch_related("attachments")
        .first()
    )
    if response is None:
        raise NotFound
    return response


def canned_attachment_get(
    *, organization: Organization, membership: Membership, attachment_id: Any
) -> CannedAttachment:
    """A file of a response the member may see, or NotFound."""
    visible = CannedResponse.objects.filter(organization=organization).filter(visible_filter(membership=membership))
    attachment = (
        CannedAttachment.objects.filter(organization=organization, pk=as_id(attachment_id))
        .filter(canned_response__in=visible.values("pk"))
        .first()
    )
    if attachment is None:
        raise NotFound
    return attachment
