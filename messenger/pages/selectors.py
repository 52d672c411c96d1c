"""Reading linked pages: never their tokens (the column is not loaded), always within one
organization."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F

from channels.kinds import LinkedPage, PageHealth, ReauthorizationAlert
from channels.models import Channel
from helpdesk.exceptions import NotFound
from helpdesk.models import Organization
from messenger.models import FacebookPage, PageStatus, ReauthorizationReason
from messenger.pages.policy import reauthorize_by


def linked_page(page: FacebookPage) -> LinkedPage:
    return LinkedPage(
        id=page.pk,
        channel_id=page.channel_id,
        external_id=page.page_id,
        name=page.name,
        status=page.status,
        status_label=str(page.get_status_display()),
        reason=page.reauthorization_reason if page.status == PageStatus.REAUTHORIZATION_REQUIRED else "",
        reason_label=str(page.get_reauthorization_reason_display())
        if page.status == PageStatus.REAUTHORIZATION_REQUIRED and page.reauthorization_reason
        else "",
        authorized_at=page.authorized_at,
        token_expires_at=page.token_expires_at,
        reauthorize_by=reauthorize_by(page),
        unlinked_at=page.unlinked_at,
        health=PageHealth(
            last_event_at=page.last_event_at,
            last_sent_at=page.last_sent_at,
            subscription=page.subscription_state,
            subscription_label=str(page.get_subscription_state_display()),
            subscription_checked_at=page.subscription_checked_at,
            resubscribed_at=page.resubscribed_at,
            silent_since=page.silent_since,
        ),
    )


_PAGE_COLUMNS = (
    "id",
    "organization_id",
    "channel_id",
    "page_id",
    "name",
    "status",
    "reauthorization_reason",
    "authorized_at",
    "token_expires_at",
    "unlinked_at",
    "created_at",
    "subscription_state",
    "subscription_checked_at",
    "resubscribed_at",
    "last_event_at",
    "last_sent_at",
    "silent_since",
)


def page_list(
    *, organization: Organization, channel_ids: Iterable[int], include_removed: bool = False
) -> list[FacebookPage]:
    """The pages of these channels, without their tokens (the column is never loaded)."""
    pages = FacebookPage.objects.filter(organization=organization, channel_id__in=list(channel_ids)).only(
        *_PAGE_COLUMNS
    )
    if not include_removed:
        pages = pages.filter(unlinked_at__isnull=True)
    return list(pages.order_by(F("unlinked_at").desc(nulls_first=True), "name", "id"))


def page_get(*, organization: Organization, page_pk: int | str) -> FacebookPage:
    try:
        pk = int(page_pk)
    except (TypeError, ValueError):
        raise NotFound from None
    page = FacebookPage.objects.filter(organization=organization, pk=pk).select_related("channel").first()
    if page is None or page.channel.deleted_at is not None:
        raise NotFound
    return page


def reauthorization_alerts(*, organization: Organization, limit: int) -> tuple[int, list[ReauthorizationAlert]]:
    """The organization's linked pages that need re-authorization (at most `limit`, and
    how many there are up to limit + 1), for the banner over the channel pages."""
    rows = list(
        FacebookPage.objects.filter(
            organization=organization,
            status=PageStatus.REAUTHORIZATION_REQUIRED,
            unlinked_at__isnull=True,
            channel__deleted_at__isnull=True,
        )
        .order_by("name", "id")
        .values_list("channel_id", "channel__name", "name", "reauthorization_reason")[: limit + 1]
    )
    labels = dict(ReauthorizationReason.choices)
    alerts = [
        ReauthorizationAlert(
            channel_id=channel_id,
            channel_name=channel_name,
            page_name=name,
            reason_label=str(labels.get(reason, "")),
        )
        for channel_id, channel_name, name, reason in rows[:limit]
    ]
    return len(rows), alerts


def linked_elsewhere(*, organization: Organization, channel: Channel, page_ids: Iterable[str]) -> dict[str, str]:
    """For the picker: {page_id: "this_channel" | "other_channel"} for pages linked already."""
    rows = FacebookPage.objects.filter(page_id__in=list(page_ids), unlinked_at__isnull=True).values_list(
        "page_id", "channel_id"
    )
    return {page_id: "this_channel" if channel_id == channel.pk else "other_channel" for page_id, channel_id in rows}
