"""The product's way to the Graph API: one client built from settings, page tokens
decrypted only at the moment of a call, and error 190 turned into "re-authorization
required" whatever the call was."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk.models import Membership, Notification, Organization, Role
from helpdesk.services import notification_create
from messenger.crypto import decrypt_token
from messenger.graph import GraphClient, GraphError, PermissionMissingError, TokenInvalidError
from messenger.models import FacebookPage, PageStatus, ReauthorizationReason

T = TypeVar("T")

logger = logging.getLogger(__name__)

_local = threading.local()


def graph_client() -> GraphClient:
    """One client (one HTTP session) per thread, rebuilt when the settings change (tests)."""
    key = (settings.FB_GRAPH_URL, settings.FB_APP_ID, settings.FB_APP_SECRET, settings.FB_GRAPH_VERSION)
    client = getattr(_local, "client", None)
    if client is None or getattr(_local, "key", None) != key:
        client = GraphClient(
            base_url=settings.FB_GRAPH_URL.rstrip("/"),
            app_id=settings.FB_APP_ID,
            app_secret=settings.FB_APP_SECRET,
            version=settings.FB_GRAPH_VERSION,
            timeout=settings.FB_GRAPH_TIMEOUT,
        )
        _local.client, _local.key = client, key
    return client


def reauthorization_reason_for(error: GraphError) -> str:
    """The page's reason for a refused token: the Graph client's own (error 190's subcode,
    messenger.graph.TOKEN_SUBCODE_REASONS, or a revoked permission)."""
    if error.reason in ReauthorizationReason.values:
        return error.reason
    return ReauthorizationReason.TOKEN_INVALID


def page_mark_reauthorization_required(*, page: FacebookPage, reason: str, refused_token: str) -> bool:
    """Flag the page; True when this call changed it. The admins are told once.

    Compare-and-set: `refused_token` is the stored (encrypted) token Facebook refused, and the
    page is flagged only while it still holds that one. An admin who re-authorized the page
    while the call was under way gave it a new token, and that re-authorization wins.
    """
    updated = (
        FacebookPage.objects.filter(pk=page.pk, access_token_encrypted=refused_token)
        .exclude(status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=reason)
        .update(status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=reason, updated_at=timezone.now())
    )
    if updated:
        page.status, page.reauthorization_reason = PageStatus.REAUTHORIZATION_REQUIRED, reason
        notify_reauthorization_required(
            pages=[
                {
                    "pk": page.pk,
                    "organization_id": page.organization_id,
                    "channel_id": page.channel_id,
                    "name": page.name,
                    "authorized_at": page.authorized_at,
                    "created_at": page.created_at,
                }
            ],
            reason=reason,
        )
    return bool(updated)


def notify_reauthorization_required(*, pages: Iterable[Mapping[str, Any]], reason: str, email: bool = False) -> int:
    """Tell each page's organization admins that it needs re-authorization.

    Once per page and authorization (the dedupe key carries `authorized_at`): the same dead
    token reported by several calls is announced once; after the next re-authorization a
    new failure is announced again. `pages` are rows with pk, organization_id, channel_id,
    name, authorized_at and created_at. Returns how many notices were new.
    """
    by_organization: dict[int, list[Mapping[str, Any]]] = {}
    for row in pages:
        by_organization.setdefault(row["organization_id"], []).append(row)
    if not by_organization:
        return 0
    organizations = Organization.objects.in_bulk(list(by_organization))
    labels = dict(ReauthorizationReason.choices)
    fresh_total = 0
    mails: list[tuple[str, str, str, list[str]]] = []
    for organization_id, rows in by_organization.items():
        organization = organizations[organization_id]
        admins = list(
            Membership.objects.filter(organization=organization, role=Role.ADMIN, is_active=True).values_list(
                "user_id", "user__email"
            )
        )
        with translation.override(organization.language):
            for row in rows:
                authorized = row.get("authorized_at") or row.get("created_at") or timezone.now()
                title = _("Facebook Page “%(page)s” needs re-authorization") % {"page": row["name"]}
                body = _(
                    "Reason: %(reason)s. Messages cannot be sent or received through this Page "
                    "until an admin re-authorizes it."
                ) % {"reason": labels.get(reason, reason)}
                url = reverse(
                    "channels:channel_edit", kwargs={"org_slug": organization.slug, "channel_id": row["channel_id"]}
                )
                fresh = notification_create(
                    organization=organization,
                    user_ids=[user_id for user_id, _email in admins],
                    kind=Notification.Kind.PAGE_REAUTHORIZATION,
                    title=title,
                    body=body,
                    url=url,
                    dedupe_key=f"page-reauthorization:{row['pk']}:{authorized.timestamp():.6f}",
                )
                fresh_total += fresh
                if fresh and email:
                    link = f"{settings.PUBLIC_URL}{url}"
                    mails.extend(
                        (title, f"{body}\n\n{link}\n", settings.DEFAULT_FROM_EMAIL, [address])
                        for _user_id, address in admins
                        if address
                    )
    send_mails_after_commit(mails)
    return fresh_total


def send_mails_after_commit(mails: list[tuple[str, str, str, list[str]]]) -> None:
    """send_mass_mail once the transaction commits; a mail failure is logged, not raised
    (the in-app notice exists already, and the mail server may be down)."""

    def send() -> None:
        try:
            send_mass_mail(tuple(mails), fail_silently=False)
        except Exception:
            logger.exception("Sending %d admin emails failed", len(mails))

    if mails:
        transaction.on_commit(send)


def call_with_page(page: FacebookPage, call: Callable[[GraphClient, str], T]) -> T:
    """Run `call(client, page_token)`; a dead token marks the page before the error goes on
    (unless the page was re-authorized meanwhile: see page_mark_reauthorization_required)."""
    token = page.access_token_encrypted
    try:
        return call(graph_client(), decrypt_token(token))
    except (TokenInvalidError, PermissionMissingError) as error:
        page_mark_reauthorization_required(page=page, reason=reauthorization_reason_for(error), refused_token=token)
        raise
