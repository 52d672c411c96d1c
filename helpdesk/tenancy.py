"""The one place a request gets its organization.

HTML pages live under `/o/<org_slug>/`: the middleware turns the slug into
`request.organization` and `request.membership` (404 for anyone who is not an active
member, never a hint that the organization exists); their views take a `TenantRequest`. The REST API resolves the
organization in `resolve_api_membership`, called by the one DRF base view: an API token
belongs to one membership; a browser session uses the organization it last opened.

A few app-level URLs live outside `/o/<org_slug>/` because a third party must know them in
advance (Facebook's webhook and its Login redirect URI). The Login callback learns its
organization from the state the server kept in the session and enters it through
`enter_organization`, like the middleware.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone, translation

from helpdesk import datetimes
from helpdesk.models import ApiToken, Membership, Organization

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SESSION_KEY = "organization_slug"


class OrganizationRequest(HttpRequest):
    """Any request past `OrganizationMiddleware`: the organization it acts in, None until one is resolved.

    Types only: at run time this is the HttpRequest itself, with the two attributes set.
    """

    organization: Organization | None
    membership: Membership | None


class TenantRequest(OrganizationRequest):
    """The request of a view under /o/<org_slug>/ (or one `enter_organization` has entered).

    The user is logged in and an active member of the organization; the views that take it
    sit behind the middleware (and `member_required` or `admin_required`).
    """

    organization: Organization
    membership: Membership
    user: User


def _active_membership(*, user: Any, org_slug: str | None) -> Membership | None:
    # The member's availability (a reverse one-to-one of the app above) comes in the same
    # query: every page's header shows it (availability.context_processors), at no query of its own.
    memberships = Membership.objects.select_related("organization", "availability").filter(user=user, is_active=True)
    if org_slug:
        memberships = memberships.filter(organization__slug=org_slug)
    return memberships.order_by("organization__name").first()


def activate_for(membership: Membership) -> None:
    """The language and time zone the member reads in: their own choice (Preferences), else
    their organization's. Anonymous pages keep the browser's language (LocaleMiddleware)."""
    translation.activate(membership.reading_language)
    timezone.activate(datetimes.zone(membership.reading_time_zone))


# Pages that resolve their reader themselves: the REST API (its one base view), Facebook's
# webhook (no reader), static files.
_READER_RESOLVED_ELSEWHERE = ("/api/", "/webhooks/", "/static/")


class OrganizationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        unresolved = cast(OrganizationRequest, request)
        unresolved.organization = None
        unresolved.membership = None
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        # The slug is consumed here so that no view can look an organization up by itself.
        org_slug = view_kwargs.pop("org_slug", None)
        if org_slug is None:
            # Outside /o/<org_slug>/ a signed-in user reads in the language of the organization
            # they work in (the organization list, an invitation, a 404).
            if request.user.is_authenticated and not request.path.startswith(_READER_RESOLVED_ELSEWHERE):
                membership = default_membership(request)
                if membership is not None:
                    activate_for(membership)
                    request.LANGUAGE_CODE = translation.get_language()
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = _active_membership(user=request.user, org_slug=org_slug)
        if membership is None:
            raise Http404
        enter_organization(request, membership)
        return None


def enter_organization(request: HttpRequest, membership: Membership) -> TenantRequest:
    """The request acts in the membership's organization from here on (and the session opens it next).

    Returns the same request, typed as the `TenantRequest` it has become."""
    entered = cast(TenantRequest, request)
    entered.organization = membership.organization
    entered.membership = membership
    if request.session.get(SESSION_KEY) != membership.organization.slug:
        request.session[SESSION_KEY] = membership.organization.slug
    activate_for(membership)
    request.LANGUAGE_CODE = translation.get_language()
    return entered


def membership_for_organization_id(*, user: Any, organization_id: Any) -> Membership | None:
    """The user's active membership in the organization with this id, or None.

    For the few app-level URLs (outside /o/<org_slug>/) that learn their organization from
    something the server itself kept, such as the Facebook Login state in the session.
    """
    if not user.is_authenticated or not isinstance(organization_id, int) or isinstance(organization_id, bool):
        return None
    return (
        Membership.objects.select_related("organization")
        .filter(user=user, organization_id=organization_id, is_active=True)
        .first()
    )


def default_membership(request: HttpRequest) -> Membership | None:
    """The organization a logged-in user lands in: the last one opened, else the first."""
    return _active_membership(user=request.user, org_slug=request.session.get(SESSION_KEY)) or _active_membership(
        user=request.user, org_slug=None
    )


def resolve_api_membership(request: Any) -> Membership | None:
    """The membership an API request acts as, or None (the caller answers 404/403)."""
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        membership = token.membership
        return membership if membership.is_active else None
    if not request.user.is_authenticated:
        return None
    slug = request.headers.get("X-Organization") or request.session.get(SESSION_KEY)
    if slug:
        return _active_membership(user=request.user, org_slug=slug)
    return _active_membership(user=request.user, org_slug=None)


def admin_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """For HTML views under /o/<org_slug>/: only the organization's admins pass (else 403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        membership = getattr(request, "membership", None)
        if membership is None:
            raise Http404
        if not membership.is_admin:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def member_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """For HTML views under /o/<org_slug>/: documents (and checks) that a membership is resolved."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if getattr(request, "membership", None) is None:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper
