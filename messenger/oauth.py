"""Linking Facebook Pages through Facebook Login (browser only, admins only).

    start (link or re-authorize) ──► Facebook's dialog ──► callback ──► choose pages ──► linked

- The `state` sent to Facebook is random, kept in the admin's session with the
  organization, the channel (and the page being re-authorized), an expiry, and is used
  once: a forged, replayed or stale state is refused and nothing is linked.
- The callback exchanges the code for a long-lived user token, checks the granted
  permissions with /debug_token and lists the user's pages. The page tokens wait for
  the admin's choice encrypted in the session (server-side), never in the HTML.
- The callback is one app-level URL, `/messenger/oauth/callback/` (outside `/o/<slug>/`), so
  the Facebook app lists a single "Valid OAuth Redirect URI" whatever the number of
  organizations; the dialog and the code exchange use it alike (Facebook requires the two
  to be equal). The callback learns the organization only from the state kept in the
  session (never from the query), checks that the user is still an active admin there,
  and continues under that organization's URLs (choose pages, re-authorize).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from channels.selectors import channel_get
from helpdesk.exceptions import HelpdeskError, NotFound
from helpdesk.tenancy import (
    TenantRequest,
    activate_for,
    admin_required,
    default_membership,
    enter_organization,
    membership_for_organization_id,
)
from messenger.crypto import TokenDecryptionError, decrypt_token, encrypt_token
from messenger.graph import LOGIN_SCOPES, GraphError, PageAccount, dialog_url
from messenger.pages import grants, linking, selectors

logger = logging.getLogger(__name__)

SESSION_KEY = "messenger_oauth"
STATE_SECONDS = 10 * 60
PICK_SECONDS = 15 * 60
# A few flows may be open at once (two tabs); more than this and the oldest are forgotten.
MAX_OPEN_FLOWS = 5


# --- The flow's memory in the session ----------------------------------------------------


def _store(request: HttpRequest) -> dict[str, dict[str, Any]]:
    store = request.session.get(SESSION_KEY)
    if not isinstance(store, dict):
        store = {}
    now = time.time()
    for kind in ("states", "picks"):
        entries = store.get(kind)
        if not isinstance(entries, dict):
            entries = {}
        live = {key: value for key, value in entries.items() if isinstance(value, dict) and value.get("exp", 0) > now}
        store[kind] = dict(sorted(live.items(), key=lambda item: item[1]["exp"])[-MAX_OPEN_FLOWS:])
    return store


def _save(request: HttpRequest, store: dict[str, dict[str, Any]]) -> None:
    request.session[SESSION_KEY] = store
    request.session.modified = True


def state_new(request: TenantRequest, *, channel_id: int, page_pk: int | None) -> str:
    store = _store(request)
    state = secrets.token_urlsafe(32)
    store["states"][state] = {
        "org": request.organization.pk,
        "user": request.user.pk,
        "channel": channel_id,
        "page": page_pk,
        "exp": time.time() + STATE_SECONDS,
    }
    _save(request, store)
    return state


def state_pop(request: HttpRequest, state: str) -> dict[str, Any] | None:
    """The flow this state started in this session, once; None when unknown, expired, used,
    or started by another user. The flow names the organization the callback acts in."""
    store = _store(request)
    flow = store["states"].pop(state, None) if state else None
    _save(request, store)
    if flow is None or flow.get("user") != request.user.pk:
        return None
    return flow


def _pick_new(request: TenantRequest, *, channel_id: int, accounts: list[PageAccount]) -> str:
    store = _store(request)
    pick_id = secrets.token_urlsafe(16)
    sealed = encrypt_token(
        json.dumps([{"id": a.id, "name": a.name, "token": a.access_token, "category": a.category} for a in accounts])
    )
    store["picks"][pick_id] = {
        "org": request.organization.pk,
        "channel": channel_id,
        "exp": time.time() + PICK_SECONDS,
        "pages": sealed,
    }
    _save(request, store)
    return pick_id


def _pick_get(
    request: TenantRequest, pick_id: str, *, consume: bool
) -> tuple[dict[str, Any], list[PageAccount]] | None:
    store = _store(request)
    pick = store["picks"].pop(pick_id, None) if consume else store["picks"].get(pick_id)
    if consume:
        _save(request, store)
    if pick is None or pick.get("org") != request.organization.pk:
        return None
    try:
        rows = json.loads(decrypt_token(pick["pages"]))
    except (TokenDecryptionError, ValueError, KeyError):
        return None
    accounts = [
        PageAccount(
            id=row["id"], name=row["name"], access_token=row["token"], tasks=(), category=row.get("category", "")
        )
        for row in rows
    ]
    return pick, accounts


def redirect_uri() -> str:
    """The one app-level callback, for every organization: the dialog's and the code exchange's."""
    return f"{settings.PUBLIC_URL}{reverse('messenger_oauth_callback')}"


def _to_facebook(request: TenantRequest, *, channel_id: int, page_pk: int | None) -> HttpResponse:
    state = state_new(request, channel_id=channel_id, page_pk=page_pk)
    url = dialog_url(
        dialog_base=settings.FB_DIALOG_URL,
        version=settings.FB_GRAPH_VERSION,
        app_id=settings.FB_APP_ID,
        redirect_uri=redirect_uri(),
        state=state,
        scopes=LOGIN_SCOPES,
    )
    return HttpResponseRedirect(url)


def _channel_url(request: TenantRequest, channel_id: int) -> str:
    return reverse(
        "channels:channel_edit",
        kwargs={"org_slug": request.organization.slug, "channel_id": channel_id},
    )


def _list_url(request: TenantRequest) -> str:
    return reverse("channels:channel_list", kwargs={"org_slug": request.organization.slug})


# --- Views --------------------------------------------------------------------------------


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def page_link(request: TenantRequest, channel_id: int) -> HttpResponse:
    """ "Add Facebook Page": off to Facebook's dialog to choose pages for this channel."""
    try:
        channel = channel_get(organization=request.organization, channel_id=channel_id)
    except NotFound:
        raise Http404 from None
    return _to_facebook(request, channel_id=channel.pk, page_pk=None)


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def page_reauthorize(request: TenantRequest, page_pk: int) -> HttpResponse:
    """ "Re-authorize" (or link again a removed page): the same dialog, for this page."""
    try:
        page = selectors.page_get(organization=request.organization, page_pk=page_pk)
    except NotFound:
        raise Http404 from None
    return _to_facebook(request, channel_id=page.channel_id, page_pk=page.pk)


@login_required
@never_cache
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Where Facebook sends the admin back, with `code` and `state` (or `error`).

    App-level (outside /o/<slug>/): the organization is the one the state was started in,
    as kept in this session; the user must still be an active admin of it.
    """
    flow = state_pop(request, request.GET.get("state", ""))
    if flow is None:
        return _unverified(request)
    membership = membership_for_organization_id(user=request.user, organization_id=flow.get("org"))
    if membership is None:
        raise Http404
    if not membership.is_admin:
        raise PermissionDenied
    tenant_request = enter_organization(request, membership)
    organization = membership.organization
    try:
        channel = channel_get(organization=organization, channel_id=flow["channel"])
    except NotFound:
        messages.error(request, _("The channel no longer exists. Nothing was linked."))
        return redirect(_list_url(tenant_request))
    back = _channel_url(tenant_request, channel.pk)
    if request.GET.get("error"):
        messages.error(request, str(grants.PermissionsNotGranted(LOGIN_SCOPES).message))
        return redirect(back)
    code = request.GET.get("code", "")
    if not code:
        messages.error(request, _("Facebook answered without an authorization code. Nothing was linked."))
        return redirect(back)
    try:
        authorization = grants.facebook_authorization_fetch(code=code, redirect_uri=redirect_uri())
    except grants.PermissionsNotGranted as error:
        messages.error(request, str(error.message))
        return redirect(back)
    except GraphError as error:
        logger.warning("Facebook Login callback failed: %s", error.reason)
        messages.error(
            request,
            _("Facebook did not accept the authorization (it may have expired). Nothing was linked; try again."),
        )
        return redirect(back)
    if flow.get("page"):
        return _reauthorize(tenant_request, page_pk=flow["page"], accounts=authorization.pages, back=back)
    if not authorization.pages:
        messages.warning(request, _("Your Facebook account manages no Page the helpdesk may use. Nothing was linked."))
        return redirect(back)
    pick_id = _pick_new(tenant_request, channel_id=channel.pk, accounts=authorization.pages)
    return redirect(f"{reverse('messenger:oauth_choose', kwargs={'org_slug': organization.slug})}?pick={pick_id}")


def _unverified(request: HttpRequest) -> HttpResponse:
    """A state this session did not start (forged, replayed, expired, another session's):
    nothing is linked, and the admin lands where they last worked."""
    membership = default_membership(request)
    if membership is not None:
        activate_for(membership)
    messages.error(
        request,
        _(
            "This Facebook authorization could not be verified (it expired, was already used, "
            "or did not start here). Nothing was linked; please start again."
        ),
    )
    if membership is not None and membership.is_admin:
        return redirect("channels:channel_list", org_slug=membership.organization.slug)
    return redirect("home")


def _reauthorize(request: TenantRequest, *, page_pk: int, accounts: list[PageAccount], back: str) -> HttpResponse:
    organization = request.organization
    try:
        page = selectors.page_get(organization=organization, page_pk=page_pk)
        page = linking.page_reauthorize(
            organization=organization, acting_user=request.user, page=page, accounts=accounts
        )
    except NotFound:
        messages.error(request, _("The page or its channel no longer exists. Nothing was changed."))
    except HelpdeskError as error:
        messages.error(request, str(error.message))
    except GraphError as error:
        logger.warning("Re-authorizing page %s failed: %s", page_pk, error.reason)
        messages.error(request, _("Facebook refused or could not complete the request; please try again in a moment."))
    else:
        messages.success(request, _("“%(page)s” is authorized again and active.") % {"page": page.name})
    return redirect(back)


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def oauth_choose(request: TenantRequest) -> HttpResponse:
    """The admin picks which of their pages the channel answers."""
    organization = request.organization
    pick_id = (request.POST if request.method == "POST" else request.GET).get("pick", "")
    found = _pick_get(request, pick_id, consume=False)
    if found is None:
        messages.error(request, _("This choice of Pages has expired or was already made. Please start again."))
        return redirect(_list_url(request))
    pick, accounts = found
    try:
        channel = channel_get(organization=organization, channel_id=pick["channel"])
    except NotFound:
        messages.error(request, _("The channel no longer exists. Nothing was linked."))
        return redirect(_list_url(request))
    taken = selectors.linked_elsewhere(organization=organization, channel=channel, page_ids=[a.id for a in accounts])
    error = ""
    if request.method == "POST":
        chosen = set(request.POST.getlist("pages"))
        selected = [account for account in accounts if account.id in chosen]
        if selected:
            _pick_get(request, pick_id, consume=True)
            outcomes = linking.pages_link(
                organization=organization, acting_user=request.user, channel=channel, accounts=selected
            )
            for outcome in outcomes:
                if outcome.linked:
                    messages.success(request, _("“%(page)s” is linked and active.") % {"page": outcome.name})
                else:
                    messages.error(request, outcome.error)
            return redirect(_channel_url(request, channel.pk))
        error = _("Choose at least one Page.")
    choices = [(account.id, account.name, account.category, taken.get(account.id, "")) for account in accounts]
    return render(
        request,
        "messenger/oauth_choose.html",
        {"channel": channel, "choices": choices, "pick": pick_id, "error": error, "settings_tab": "channels"},
        status=400 if error else 200,
    )
