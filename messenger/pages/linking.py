"""Linking Facebook Pages to a Messenger channel, re-authorizing them, and removing them.

Each step talks to Facebook (token check, app subscription) here; what the page's
authorization becomes is messenger.pages.authorization's to write.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.models import Channel
from helpdesk.exceptions import HelpdeskError, NotFound, PageAlreadyLinked
from helpdesk.models import Organization
from messenger import client
from messenger.crypto import TokenDecryptionError, decrypt_token
from messenger.graph import GraphError, PageAccount
from messenger.models import FacebookPage
from messenger.pages.authorization import (
    page_authorization_mark_active,
    page_authorization_mark_linked,
    page_authorization_mark_removed,
    page_authorization_renew,
    pages_authorization_mark_removed,
)
from messenger.pages.grants import PageNotGranted, token_checked

logger = logging.getLogger(__name__)


@dataclass
class LinkOutcome:
    page_id: str
    name: str
    linked: bool
    error: str = ""
    page_pk: int | None = None


def _already_linked_message(organization: Organization, page_id: str, name: str) -> str:
    other = (
        FacebookPage.objects.filter(page_id=page_id, unlinked_at__isnull=True)
        .values_list("organization_id", "channel__name")
        .first()
    )
    # Another organization's channel is never named, nor is the organization.
    if other and other[0] == organization.pk:
        return _("The Facebook Page “%(page)s” is already linked to the channel “%(channel)s”.") % {
            "page": name,
            "channel": other[1],
        }
    return _("The Facebook Page “%(page)s” is already linked to another channel.") % {"page": name}


def pages_link(
    *,
    organization: Organization,
    acting_user: Any,
    channel: Channel,
    accounts: Sequence[PageAccount],
) -> list[LinkOutcome]:
    """Link the chosen pages to the channel.

    Each page is first recorded as linked but not yet usable ("re-authorization required:
    page newly added"), which claims it (a page is linked to one channel in the whole
    service); then the app is subscribed to it and its token inspected; only then does it
    become active. A page whose Graph calls failed stays visibly waiting for authorization.
    """
    if channel.organization_id != organization.pk:
        raise NotFound
    outcomes: list[LinkOutcome] = []
    claimed: list[tuple[FacebookPage, PageAccount]] = []
    now = timezone.now()
    with transaction.atomic():
        channel = Channel.objects.select_for_update().get(pk=channel.pk)
        if channel.deleted_at is not None:
            raise NotFound
        for account in accounts:
            try:
                with transaction.atomic():
                    page = _claim(organization, channel, account, now)
            except PageAlreadyLinked:
                outcomes.append(
                    LinkOutcome(
                        account.id, account.name, False, _already_linked_message(organization, account.id, account.name)
                    )
                )
                continue
            claimed.append((page, account))
    for page, account in claimed:
        try:
            info = token_checked(account)
            client.graph_client().subscribe_app(page_id=account.id, page_token=account.access_token)
        except (GraphError, HelpdeskError) as error:
            logger.warning("Linking page %s: %s", account.id, type(error).__name__)
            outcomes.append(LinkOutcome(account.id, account.name, False, _graph_failure_message(error), page.pk))
            continue
        page_authorization_mark_active(
            page=page, token_expires_at=info.expires_at, now=timezone.now(), authorized_by=info.user_id
        )
        outcomes.append(LinkOutcome(account.id, account.name, True, page_pk=page.pk))
    return outcomes


def _claim(organization: Organization, channel: Channel, account: PageAccount, now: datetime) -> FacebookPage:
    linked = FacebookPage.objects.select_for_update().filter(page_id=account.id, unlinked_at__isnull=True).first()
    if linked is not None and linked.channel_id != channel.pk:
        raise PageAlreadyLinked
    # The same page removed from this channel earlier comes back as the same row, so that
    # its conversations continue where they were.
    page = linked or (
        FacebookPage.objects.select_for_update()
        .filter(organization=organization, channel=channel, page_id=account.id)
        .order_by("-unlinked_at")
        .first()
    )
    if page is None:
        page = FacebookPage(organization=organization, channel=channel, page_id=account.id)
    page.name = account.name[:200] or account.id
    try:
        page_authorization_mark_linked(page=page, page_token=account.access_token, now=now)
    except IntegrityError:
        raise PageAlreadyLinked from None
    return page


def _graph_failure_message(error: Exception) -> str:
    if isinstance(error, HelpdeskError):
        return str(error.message)
    return _("Facebook refused or could not complete the request; try “Re-authorize” again in a moment.")


def page_reauthorize(
    *, organization: Organization, acting_user: Any, page: FacebookPage, accounts: Sequence[PageAccount]
) -> FacebookPage:
    """Put the page back to work with the token from a new pass through Facebook Login: active,
    with its new expiry; a page removed from its channel is linked to it again."""
    if page.organization_id != organization.pk:
        raise NotFound
    account = next((account for account in accounts if account.id == page.page_id), None)
    if account is None:
        raise PageNotGranted(
            _("The Facebook Page “%(page)s” was not among the Pages you allowed the helpdesk to use.")
            % {"page": page.name}
        )
    info = token_checked(account)
    client.graph_client().subscribe_app(page_id=account.id, page_token=account.access_token)
    now = timezone.now()
    with transaction.atomic():
        channel = Channel.objects.select_for_update().get(pk=page.channel_id)
        if channel.deleted_at is not None:
            raise NotFound
        page = FacebookPage.objects.select_for_update().get(pk=page.pk)
        page.name = account.name[:200] or page.name
        try:
            with transaction.atomic():
                page_authorization_renew(
                    page=page,
                    page_token=account.access_token,
                    token_expires_at=info.expires_at,
                    now=now,
                    authorized_by=info.user_id,
                )
        except IntegrityError:
            raise PageAlreadyLinked(_already_linked_message(organization, page.page_id, page.name)) from None
    return page


def page_remove(*, organization: Organization, acting_user: Any, channel: Channel, page_pk: int) -> FacebookPage:
    """Unlink a page from its channel: the app is unsubscribed (Graph errors tolerated), the token
    forgotten, the conversations kept. Linking it again goes through Facebook Login."""
    if channel.organization_id != organization.pk:
        raise NotFound
    with transaction.atomic():
        page = (
            FacebookPage.objects.select_for_update()
            .filter(organization=organization, channel=channel, pk=page_pk, unlinked_at__isnull=True)
            .first()
        )
        if page is None:
            raise NotFound
        _unsubscribe_after_commit([(page.page_id, page.access_token_encrypted)])
        page_authorization_mark_removed(page=page, now=timezone.now())
    return page


def pages_unlink_for_channel(*, organization: Organization, channel: Channel) -> int:
    """Every linked page of a deleted channel: unsubscribed after commit, unlinked now."""
    pages = FacebookPage.objects.select_for_update().filter(
        organization=organization, channel=channel, unlinked_at__isnull=True
    )
    subscribed = list(pages.values_list("page_id", "access_token_encrypted"))
    _unsubscribe_after_commit(subscribed)
    return pages_authorization_mark_removed(pages=pages, now=timezone.now())


def _unsubscribe_after_commit(pages: list[tuple[str, str]]) -> None:
    def unsubscribe() -> None:
        for page_id, ciphertext in pages:
            try:
                client.graph_client().unsubscribe_app(page_id=page_id, page_token=decrypt_token(ciphertext))
            except (GraphError, TokenDecryptionError) as error:
                # The page is unlinked either way; Facebook drops the subscription of an app
                # whose webhooks keep failing, and unknown pages' events are ignored.
                logger.warning("Unsubscribing from page %s failed: %s", page_id, type(error).__name__)

    if pages:
        transaction.on_commit(unsubscribe)
