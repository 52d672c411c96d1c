"""Telling an organization's admins about their pages' authorization: one fan-out (an in-app
notice to each active admin, and optionally an email after commit), and the two notices the
state machine sends through it.

Notices are deduplicated per page and authorization (or per expiry): the same dead token
reported by several calls is announced once; after the next re-authorization a new failure is
announced again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import Notification, Organization
from helpdesk.notifications import notification_words, reading_as
from helpdesk.services import Reader, admin_readers, notification_create
from helpdesk.services import mails_send_after_commit as send_mails_after_commit
from messenger import notification_texts
from messenger.models import FacebookPage

logger = logging.getLogger(__name__)

Item = TypeVar("Item")


@dataclass(frozen=True)
class AdminNotice:
    """One notice about one page: its kind and parameters (its words are written for each
    reader, messenger.notification_texts)."""

    kind: str
    params: dict[str, Any]
    channel_id: int
    dedupe_key: str


def admins_notify(
    items: Iterable[Item],
    *,
    organization_id: Callable[[Item], int],
    compose: Callable[[Organization, Item], AdminNotice],
    email: bool,
) -> int:
    """Each item's notice to the active admins of its organization; with `email`, each new
    notice is also mailed after commit, to each admin in their own language and time zone.
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
        admins = admin_readers(organization=organization)
        for item in org_items:
            notice = compose(organization, item)
            url = reverse(
                "channels:channel_edit", kwargs={"org_slug": organization.slug, "channel_id": notice.channel_id}
            )
            fresh = notification_create(
                organization=organization,
                user_ids=[admin.user_id for admin in admins],
                kind=notice.kind,
                params=notice.params,
                url=url,
                dedupe_key=notice.dedupe_key,
            )
            fresh_total += fresh
            if fresh and email:
                mails.extend(
                    _mail(notice, admin, link=f"{settings.PUBLIC_URL}{url}") for admin in admins if admin.email
                )
    send_mails_after_commit(mails)
    return fresh_total


def _mail(notice: AdminNotice, admin: Reader, *, link: str) -> tuple[str, str, str, list[str]]:
    """The notice as an email to one admin, in their language and time zone."""
    with reading_as(language=admin.language, time_zone=admin.time_zone):
        text = notification_words(notice.kind, notice.params)
    return (text.title, f"{text.body}\n\n{link}\n", settings.DEFAULT_FROM_EMAIL, [admin.email])


def notify_reauthorization_required(*, pages: Iterable[Mapping[str, Any]], reason: str, email: bool = False) -> int:
    """The page needs re-authorization, and why. `pages` are rows with pk, organization_id,
    channel_id, name, authorized_at and created_at. Returns how many notices were new."""

    def compose(organization: Organization, row: Mapping[str, Any]) -> AdminNotice:
        authorized = row.get("authorized_at") or row.get("created_at") or timezone.now()
        return AdminNotice(
            kind=Notification.Kind.PAGE_REAUTHORIZATION,
            params=notification_texts.page_reauthorization_params(page=row["name"], reason=reason),
            channel_id=row["channel_id"],
            dedupe_key=f"page-reauthorization:{row['pk']}:{authorized.timestamp():.6f}",
        )

    return admins_notify(pages, organization_id=lambda row: row["organization_id"], compose=compose, email=email)


def notify_expiring(pages: Iterable[tuple[FacebookPage, datetime]]) -> int:
    """The page must be re-authorized by its deadline (shown in each reader's time zone);
    in-app and by email, once per page and deadline."""

    def compose(organization: Organization, item: tuple[FacebookPage, datetime]) -> AdminNotice:
        page, deadline = item
        return AdminNotice(
            kind=Notification.Kind.TOKEN_EXPIRING,
            params=notification_texts.token_expiring_params(page=page.name, deadline=deadline),
            channel_id=page.channel_id,
            dedupe_key=f"page-expiring:{page.pk}:{deadline.timestamp():.6f}",
        )

    return admins_notify(pages, organization_id=lambda item: item[0].organization_id, compose=compose, email=True)


def notify_subscription_dropped(pages: Iterable[Mapping[str, Any]]) -> int:
    """Facebook had dropped the app's subscription to the page (rows with pk, organization_id,
    channel_id, name, dropped_at and resubscribed): in-app and by email, once per drop."""

    def compose(organization: Organization, row: Mapping[str, Any]) -> AdminNotice:
        dropped_at: datetime = row["dropped_at"]
        return AdminNotice(
            kind=Notification.Kind.PAGE_SUBSCRIPTION_DROPPED,
            params=notification_texts.page_subscription_dropped_params(
                page=row["name"], resubscribed=bool(row["resubscribed"])
            ),
            channel_id=row["channel_id"],
            dedupe_key=f"page-subscription-dropped:{row['pk']}:{dropped_at.timestamp():.6f}",
        )

    return admins_notify(pages, organization_id=lambda row: row["organization_id"], compose=compose, email=True)


def notify_silent(pages: Iterable[Mapping[str, Any]]) -> int:
    """The page has received nothing for an unusual time (rows with pk, organization_id,
    channel_id, name, silent_since, last_event_at and expected): in-app and by email, once
    per silence."""

    def compose(organization: Organization, row: Mapping[str, Any]) -> AdminNotice:
        silent_since: datetime = row["silent_since"]
        return AdminNotice(
            kind=Notification.Kind.PAGE_SILENT,
            params=notification_texts.page_silent_params(
                page=row["name"], last_event_at=row["last_event_at"], expected=int(row["expected"])
            ),
            channel_id=row["channel_id"],
            dedupe_key=f"page-silent:{row['pk']}:{silent_since.timestamp():.6f}",
        )

    return admins_notify(pages, organization_id=lambda row: row["organization_id"], compose=compose, email=True)
