"""Telling an organization's admins about their pages' authorization: one fan-out (an in-app
notice to each active admin, and optionally an email after commit), and the two notices the
state machine sends through it.

Notices are deduplicated per page and authorization (or per expiry): the same dead token
reported by several calls is announced once; after the next re-authorization a new failure is
announced again.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, TypeVar

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from helpdesk.models import Notification, Organization
from helpdesk.services import admin_recipients, notification_create
from messenger.models import FacebookPage, ReauthorizationReason

logger = logging.getLogger(__name__)

Item = TypeVar("Item")


@dataclass(frozen=True)
class AdminNotice:
    """One notice about one page, already in the organization's language."""

    kind: str
    title: str
    body: str
    channel_id: int
    dedupe_key: str


def admins_notify(
    items: Iterable[Item],
    *,
    organization_id: Callable[[Item], int],
    compose: Callable[[Organization, Item], AdminNotice],
    email: bool,
) -> int:
    """Each item's notice to the active admins of its organization (composed in the
    organization's language); with `email`, each new notice is also mailed after commit.
    Returns how many notices were new."""
    by_organization: dict[int, list[Item]] = {}
    for item in items:
        by_organization.setdefault(organization_id(item), []).append(item)
    if not by_organization:
        return 0
    organizations = Organization.objects.in_bulk(list(by_organization))
    fresh_total = 0
    mails: list[tuple[str, str, str, list[str]]] = []
    for org_id, org_items in by_organization.items():
        organization = organizations[org_id]
        admins = admin_recipients(organization=organization)
        with translation.override(organization.language):
            for item in org_items:
                notice = compose(organization, item)
                url = reverse(
                    "channels:channel_edit", kwargs={"org_slug": organization.slug, "channel_id": notice.channel_id}
                )
                fresh = notification_create(
                    organization=organization,
                    user_ids=[user_id for user_id, _email in admins],
                    kind=notice.kind,
                    title=notice.title,
                    body=notice.body,
                    url=url,
                    dedupe_key=notice.dedupe_key,
                )
                fresh_total += fresh
                if fresh and email:
                    link = f"{settings.PUBLIC_URL}{url}"
                    mails.extend(
                        (notice.title, f"{notice.body}\n\n{link}\n", settings.DEFAULT_FROM_EMAIL, [address])
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


def notify_reauthorization_required(*, pages: Iterable[Mapping[str, Any]], reason: str, email: bool = False) -> int:
    """The page needs re-authorization, and why. `pages` are rows with pk, organization_id,
    channel_id, name, authorized_at and created_at. Returns how many notices were new."""
    labels = dict(ReauthorizationReason.choices)

    def compose(organization: Organization, row: Mapping[str, Any]) -> AdminNotice:
        authorized = row.get("authorized_at") or row.get("created_at") or timezone.now()
        return AdminNotice(
            kind=Notification.Kind.PAGE_REAUTHORIZATION,
            title=_("Facebook Page “%(page)s” needs re-authorization") % {"page": row["name"]},
            body=_(
                "Reason: %(reason)s. Messages cannot be sent or received through this Page "
                "until an admin re-authorizes it."
            )
            % {"reason": labels.get(reason, reason)},
            channel_id=row["channel_id"],
            dedupe_key=f"page-reauthorization:{row['pk']}:{authorized.timestamp():.6f}",
        )

    return admins_notify(pages, organization_id=lambda row: row["organization_id"], compose=compose, email=email)


def notify_expiring(pages: Iterable[tuple[FacebookPage, datetime]]) -> int:
    """The page must be re-authorized by its deadline (in the organization's time zone);
    in-app and by email, once per page and deadline."""

    def compose(organization: Organization, item: tuple[FacebookPage, datetime]) -> AdminNotice:
        page, deadline = item
        when = date_format(timezone.localtime(deadline, _zone(organization)), "DATETIME_FORMAT")
        return AdminNotice(
            kind=Notification.Kind.TOKEN_EXPIRING,
            title=_("Facebook Page “%(page)s” must be re-authorized by %(when)s") % {"page": page.name, "when": when},
            body=_(
                "Messages can no longer be sent or received through this Page after that. "
                "Open the channel and click “Re-authorize”."
            ),
            channel_id=page.channel_id,
            dedupe_key=f"page-expiring:{page.pk}:{deadline.timestamp():.6f}",
        )

    return admins_notify(pages, organization_id=lambda item: item[0].organization_id, compose=compose, email=True)


def _zone(organization: Organization) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(organization.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()
