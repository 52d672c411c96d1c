"""Facebook Pages linked to Messenger channels: linking, re-authorization, removal, and the
authorization lifecycle (statuses and their reasons).

A page's authorization runs out at its *reauthorize-by* time: the earlier of the token's
own expiry (as /debug_token reports it) and `authorized_at + TOKEN_REAUTHORIZATION_DAYS`
(the product's policy, which also covers tokens Facebook says never expire). The sweep in
`messenger.tasks.token_expiry_sweep` moves pages through active → expiring soon →
re-authorization required; error 190 on any Graph call does the last step at once
(`messenger.client.call_with_page`).

Page tokens are stored encrypted (messenger.crypto) and leave this module only towards
the Graph client: never in logs, messages, API responses or HTML.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q
from django.db.models.functions import Coalesce, Least
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.kinds import ChannelChange, LinkedPage, ReauthorizationAlert
from channels.models import Channel
from helpdesk.exceptions import HelpdeskError, NotFound, PageAlreadyLinked
from helpdesk.models import Department, Membership, Notification, Organization, Role
from helpdesk.services import notification_create
from messenger.client import graph_client, notify_reauthorization_required, send_mails_after_commit
from messenger.crypto import TokenDecryptionError, decrypt_token, encrypt_token
from messenger.graph import (
    LOGIN_SCOPES,
    TOKEN_SUBCODE_REASONS,
    GraphError,
    PageAccount,
    TokenInfo,
    token_invalid_reason,
)
from messenger.models import (
    Conversation,
    ConversationEvent,
    ConversationState,
    FacebookPage,
    PageStatus,
    ReauthorizationReason,
)
from messenger.services.conversations import conversations_follow_channel

logger = logging.getLogger(__name__)

# What each permission is for, in the words an admin sees when Facebook did not grant it.
PERMISSION_PURPOSES = {
    "pages_show_list": gettext_lazy("list the Pages you manage"),
    "pages_messaging": gettext_lazy("send and receive Messenger messages"),
    "pages_manage_metadata": gettext_lazy("subscribe the helpdesk to the Page's messages"),
    "pages_read_engagement": gettext_lazy("read the Page's name and customers' public profiles"),
}

_EVENT_KINDS = {
    "disabled": ConversationEvent.Kind.CHANNEL_DISABLED,
    "enabled": ConversationEvent.Kind.CHANNEL_ENABLED,
    "deleted": ConversationEvent.Kind.CHANNEL_DELETED,
}


class PermissionsNotGranted(HelpdeskError):
    code = "permissions_not_granted"
    status = 400

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = list(missing)
        described = "; ".join(f"{scope} ({PERMISSION_PURPOSES.get(scope, scope)})" for scope in self.missing)
        super().__init__(
            _("Facebook did not grant the helpdesk every permission it needs. Missing: %(missing)s.")
            % {"missing": described},
            details={"missing_permissions": self.missing},
        )


class PageNotGranted(HelpdeskError):
    code = "page_not_granted"
    status = 400


# --- Reading pages -----------------------------------------------------------------------


def reauthorize_by(page: FacebookPage) -> datetime | None:
    """When the page's authorization runs out: token expiry or the 60-day policy, whichever first."""
    authorized = page.authorized_at or page.created_at
    deadline = authorized + timedelta(days=settings.TOKEN_REAUTHORIZATION_DAYS) if authorized else None
    candidates = [moment for moment in (page.token_expires_at, deadline) if moment is not None]
    return min(candidates) if candidates else None


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


class MessengerChannelKind:
    """What the channels app asks of Messenger channels (see channels.kinds)."""

    def pages_by_channel(
        self, *, organization: Organization, channel_ids: Iterable[int], include_removed: bool = False
    ) -> dict[int, list[LinkedPage]]:
        grouped: dict[int, list[LinkedPage]] = defaultdict(list)
        for page in page_list(organization=organization, channel_ids=channel_ids, include_removed=include_removed):
            grouped[page.channel_id].append(linked_page(page))
        return dict(grouped)

    def page_remove(
        self, *, organization: Organization, acting_user: Any, channel: Channel, page_pk: int
    ) -> LinkedPage:
        return linked_page(
            page_remove(organization=organization, acting_user=acting_user, channel=channel, page_pk=page_pk)
        )

    def channel_changed(
        self, *, organization: Organization, acting_user: Any, channel: Channel, change: ChannelChange
    ) -> None:
        conversation_events_record(organization=organization, acting_user=acting_user, channel=channel, change=change)
        if change == "deleted":
            pages_unlink_for_channel(organization=organization, channel=channel)

    def channel_moved(
        self, *, organization: Organization, acting_user: Any, channel: Channel, from_department: Department
    ) -> None:
        conversations_follow_channel(
            organization=organization, acting_user=acting_user, channel=channel, from_department=from_department
        )

    def reauthorization_alerts(
        self, *, organization: Organization, limit: int
    ) -> tuple[int, list[ReauthorizationAlert]]:
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


# --- Authorizing: what Facebook granted --------------------------------------------------


@dataclass(frozen=True)
class FacebookAuthorization:
    """What one pass through Facebook Login gave: the pages the admin manages, with tokens."""

    pages: list[PageAccount] = field(repr=False)


def missing_permissions(info: TokenInfo) -> list[str]:
    granted = set(info.scopes)
    return [scope for scope in LOGIN_SCOPES if scope not in granted]


def facebook_authorization_fetch(*, code: str, redirect_uri: str) -> FacebookAuthorization:
    """Code → user token → long-lived user token → granted permissions → the user's pages.

    Raises PermissionsNotGranted naming what is missing, or GraphError.
    """
    client = graph_client()
    short_lived = client.exchange_code(code=code, redirect_uri=redirect_uri)
    long_lived = client.exchange_long_lived(user_token=short_lived.access_token)
    info = client.debug_token(input_token=long_lived.access_token)
    missing = missing_permissions(info)
    if missing or not info.is_valid:
        raise PermissionsNotGranted(missing or list(LOGIN_SCOPES))
    return FacebookAuthorization(pages=client.list_pages(user_token=long_lived.access_token))


def _token_checked(account: PageAccount) -> TokenInfo:
    """The page token's expiry and validity, straight after Facebook handed it out."""
    info = graph_client().debug_token(input_token=account.access_token)
    if not info.is_valid:
        raise GraphError(_("Facebook reports the new Page token as not valid."))
    missing = missing_permissions(info)
    if missing:
        raise PermissionsNotGranted(missing)
    return info


# --- Linking ------------------------------------------------------------------------------


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
            info = _token_checked(account)
            graph_client().subscribe_app(page_id=account.id, page_token=account.access_token)
        except (GraphError, HelpdeskError) as error:
            logger.warning("Linking page %s: %s", account.id, type(error).__name__)
            outcomes.append(LinkOutcome(account.id, account.name, False, _graph_failure_message(error), page.pk))
            continue
        _mark_authorized(page, token_expires_at=info.expires_at, now=timezone.now())
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
    page.access_token_encrypted = encrypt_token(account.access_token)
    page.authorized_at = now
    page.unlinked_at = None
    if page.pk is None or page.status != PageStatus.ACTIVE:
        page.status = PageStatus.REAUTHORIZATION_REQUIRED
        page.reauthorization_reason = ReauthorizationReason.PAGE_ADDED
    try:
        page.save()
    except IntegrityError:
        raise PageAlreadyLinked from None
    return page


def _mark_authorized(page: FacebookPage, *, token_expires_at: datetime | None, now: datetime) -> None:
    FacebookPage.objects.filter(pk=page.pk).update(
        status=PageStatus.ACTIVE,
        reauthorization_reason="",
        token_expires_at=token_expires_at,
        token_checked_at=now,
        expiry_warned_for=None,
        updated_at=now,
    )


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
    info = _token_checked(account)
    graph_client().subscribe_app(page_id=account.id, page_token=account.access_token)
    now = timezone.now()
    with transaction.atomic():
        channel = Channel.objects.select_for_update().get(pk=page.channel_id)
        if channel.deleted_at is not None:
            raise NotFound
        page = FacebookPage.objects.select_for_update().get(pk=page.pk)
        page.name = account.name[:200] or page.name
        page.access_token_encrypted = encrypt_token(account.access_token)
        page.token_expires_at = info.expires_at
        page.authorized_at = now
        page.token_checked_at = now
        page.status = PageStatus.ACTIVE
        page.reauthorization_reason = ""
        page.expiry_warned_for = None
        page.unlinked_at = None
        try:
            with transaction.atomic():
                page.save()
        except IntegrityError:
            raise PageAlreadyLinked(_already_linked_message(organization, page.page_id, page.name)) from None
    return page


# --- Removing -----------------------------------------------------------------------------


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
        now = timezone.now()
        page.unlinked_at = now
        page.status = PageStatus.REAUTHORIZATION_REQUIRED
        page.reauthorization_reason = ReauthorizationReason.PAGE_REMOVED
        page.access_token_encrypted = ""
        page.save(
            update_fields=["unlinked_at", "status", "reauthorization_reason", "access_token_encrypted", "updated_at"]
        )
    return page


def pages_unlink_for_channel(*, organization: Organization, channel: Channel) -> int:
    """Every linked page of a deleted channel: unsubscribed after commit, unlinked now."""
    pages = FacebookPage.objects.select_for_update().filter(
        organization=organization, channel=channel, unlinked_at__isnull=True
    )
    subscribed = list(pages.values_list("page_id", "access_token_encrypted"))
    _unsubscribe_after_commit(subscribed)
    return pages.update(
        unlinked_at=timezone.now(),
        status=PageStatus.REAUTHORIZATION_REQUIRED,
        reauthorization_reason=ReauthorizationReason.PAGE_REMOVED,
        access_token_encrypted="",
        updated_at=timezone.now(),
    )


def _unsubscribe_after_commit(pages: list[tuple[str, str]]) -> None:
    def unsubscribe() -> None:
        for page_id, ciphertext in pages:
            try:
                graph_client().unsubscribe_app(page_id=page_id, page_token=decrypt_token(ciphertext))
            except (GraphError, TokenDecryptionError) as error:
                # The page is unlinked either way; Facebook drops the subscription of an app
                # whose webhooks keep failing, and unknown pages' events are ignored.
                logger.warning("Unsubscribing from page %s failed: %s", page_id, type(error).__name__)

    if pages:
        transaction.on_commit(unsubscribe)


# --- Conversations learn why -------------------------------------------------------------


def conversation_events_record(
    *, organization: Organization, acting_user: Any, channel: Channel, change: ChannelChange
) -> int:
    """A system line on each open conversation of the channel: disabled, enabled or deleted."""
    conversation_ids = list(
        Conversation.objects.filter(organization=organization, channel=channel, state=ConversationState.OPEN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    actor = acting_user if getattr(acting_user, "is_authenticated", False) else None
    ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                organization=organization,
                conversation_id=conversation_id,
                kind=_EVENT_KINDS[change],
                actor=actor,
                data={"channel": channel.name},
            )
            for conversation_id in conversation_ids
        ],
        batch_size=500,
    )
    return len(conversation_ids)


# --- The token expiry sweep ----------------------------------------------------------------


@dataclass
class SweepReport:
    expired: int = 0
    warned: int = 0
    back_to_active: int = 0
    checked: int = 0
    invalid: int = 0

    def changed(self) -> bool:
        return bool(self.expired or self.warned or self.back_to_active or self.invalid)


SWEEP_BATCH = 1000


def _policy_deadline() -> ExpressionWrapper:
    return ExpressionWrapper(
        Coalesce(F("authorized_at"), F("created_at")) + timedelta(days=settings.TOKEN_REAUTHORIZATION_DAYS),
        output_field=DateTimeField(),
    )


def _reauthorize_by_expression() -> Least:
    policy = _policy_deadline()
    return Least(Coalesce(F("token_expires_at"), policy), policy, output_field=DateTimeField())


def _linked_pages() -> Any:
    return FacebookPage.objects.filter(unlinked_at__isnull=True)


def token_expiry_sweep(*, now: datetime | None = None, check_limit: int | None = None) -> SweepReport:
    """One pass of the hourly job. Set-based and idempotent: a second run changes nothing."""
    now = now or timezone.now()
    report = SweepReport()
    report.expired = _sweep_expired(now)
    report.warned = _sweep_expiring(now)
    report.back_to_active = _sweep_back_to_active(now)
    report.checked, report.invalid = _sweep_debug_tokens(
        now, settings.TOKEN_CHECK_BATCH_SIZE if check_limit is None else check_limit
    )
    return report


_PageRow = dict[str, Any]
_ROW_FIELDS = ("pk", "organization_id", "channel_id", "name", "authorized_at", "created_at", "token_expires_at")


def _sweep_expired(now: datetime) -> int:
    """Past the reauthorize-by time → re-authorization required (token expired or 60 days)."""
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                _linked_pages()
                .exclude(status=PageStatus.REAUTHORIZATION_REQUIRED)
                .alias(reauthorize_by=_reauthorize_by_expression())
                .filter(reauthorize_by__lte=now)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values(*_ROW_FIELDS)[:SWEEP_BATCH]
            )
            if not rows:
                return total
            by_reason: dict[ReauthorizationReason, list[_PageRow]] = defaultdict(list)
            for row in rows:
                policy = (row["authorized_at"] or row["created_at"]) + timedelta(
                    days=settings.TOKEN_REAUTHORIZATION_DAYS
                )
                expires = row["token_expires_at"]
                reason = (
                    ReauthorizationReason.TOKEN_EXPIRED
                    if expires is not None and expires <= policy
                    else ReauthorizationReason.POLICY_EXPIRED
                )
                by_reason[reason].append(row)
            for reason, reason_rows in by_reason.items():
                FacebookPage.objects.filter(pk__in=[row["pk"] for row in reason_rows]).update(
                    status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=reason, updated_at=now
                )
                notify_reauthorization_required(pages=reason_rows, reason=reason, email=True)
        total += len(rows)
        if len(rows) < SWEEP_BATCH:
            return total


def _sweep_expiring(now: datetime) -> int:
    """Within TOKEN_EXPIRY_WARNING_DAYS of it → expiring soon; the admins are told once per expiry."""
    horizon = now + timedelta(days=settings.TOKEN_EXPIRY_WARNING_DAYS)
    candidates = (
        _linked_pages()
        .filter(status__in=[PageStatus.ACTIVE, PageStatus.EXPIRING_SOON])
        .alias(reauthorize_by=_reauthorize_by_expression())
        .filter(reauthorize_by__gt=now, reauthorize_by__lte=horizon)
    )
    # Pages already warned about this very expiry change nothing; on PostgreSQL this is done
    # in the query, the rest is compared below (SQLite keeps date arithmetic as text).
    warned_total = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            pages = list(
                candidates.filter(pk__gt=last_pk)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .only(
                    "pk",
                    "organization_id",
                    "channel_id",
                    "name",
                    "status",
                    "authorized_at",
                    "created_at",
                    "token_expires_at",
                    "expiry_warned_for",
                )[:SWEEP_BATCH]
            )
            if not pages:
                return warned_total
            last_pk = pages[-1].pk
            changed: list[FacebookPage] = []
            to_warn: list[tuple[FacebookPage, datetime]] = []
            for page in pages:
                deadline = reauthorize_by(page)
                if deadline is None:
                    continue
                if page.expiry_warned_for != deadline:
                    to_warn.append((page, deadline))
                elif page.status == PageStatus.EXPIRING_SOON:
                    continue
                page.status = PageStatus.EXPIRING_SOON
                page.expiry_warned_for = deadline
                page.updated_at = now
                changed.append(page)
            if changed:
                FacebookPage.objects.bulk_update(changed, ["status", "expiry_warned_for", "updated_at"])
            if to_warn:
                _notify_expiring(to_warn)
            warned_total += len(to_warn)
        if len(pages) < SWEEP_BATCH:
            return warned_total


def _sweep_back_to_active(now: datetime) -> int:
    """Expiring soon but no longer within the warning window (the token was renewed)."""
    horizon = now + timedelta(days=settings.TOKEN_EXPIRY_WARNING_DAYS)
    return (
        _linked_pages()
        .filter(status=PageStatus.EXPIRING_SOON)
        .alias(reauthorize_by=_reauthorize_by_expression())
        .filter(reauthorize_by__gt=horizon)
        .update(status=PageStatus.ACTIVE, updated_at=now)
    )


def _sweep_debug_tokens(now: datetime, limit: int) -> tuple[int, int]:
    """Ask /debug_token about the tokens not checked for a day, oldest first, at most `limit`.

    The batch is claimed (token_checked_at = now) in a short transaction so that two sweeps
    never ask about the same token and no lock is held during the HTTP calls.
    """
    if limit <= 0:
        return 0, 0
    with transaction.atomic():
        claimed = list(
            _linked_pages()
            .exclude(status=PageStatus.REAUTHORIZATION_REQUIRED)
            .filter(Q(token_checked_at__isnull=True) | Q(token_checked_at__lt=now - timedelta(days=1)))
            .order_by(F("token_checked_at").asc(nulls_first=True), "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if not claimed:
            return 0, 0
        FacebookPage.objects.filter(pk__in=claimed).update(token_checked_at=now)
    pages = list(
        FacebookPage.objects.filter(pk__in=claimed).only(
            "pk",
            "organization_id",
            "channel_id",
            "name",
            "page_id",
            "access_token_encrypted",
            "authorized_at",
            "created_at",
            "token_expires_at",
        )
    )
    invalid: dict[str, list[FacebookPage]] = defaultdict(list)
    new_expiries: list[FacebookPage] = []
    client = graph_client()
    for page in pages:
        try:
            info = client.debug_token(input_token=decrypt_token(page.access_token_encrypted))
        except TokenDecryptionError:
            invalid[ReauthorizationReason.TOKEN_INVALID].append(page)
            continue
        except GraphError as error:
            # Facebook could not answer now; the page is asked again tomorrow.
            logger.warning("debug_token for page %s failed: %s", page.page_id, error.reason)
            continue
        reason = _invalid_reason(info, now)
        if reason:
            invalid[reason].append(page)
        elif info.expires_at != page.token_expires_at:
            page.token_expires_at = info.expires_at
            new_expiries.append(page)
    # Every write below is a compare-and-set on the token that was checked: a page
    # re-authorized during the HTTP calls has a new token, and keeps what that gave it.
    for page in new_expiries:
        FacebookPage.objects.filter(pk=page.pk, access_token_encrypted=page.access_token_encrypted).update(
            token_expires_at=page.token_expires_at
        )
    found = 0
    for reason, reason_pages in invalid.items():
        still_checked_token = Q(pk__in=[])
        for page in reason_pages:
            still_checked_token |= Q(pk=page.pk, access_token_encrypted=page.access_token_encrypted)
        with transaction.atomic():
            marked = list(
                FacebookPage.objects.select_for_update()
                .filter(still_checked_token, unlinked_at__isnull=True)
                .exclude(status=PageStatus.REAUTHORIZATION_REQUIRED)
                .values(*_ROW_FIELDS)
            )
            FacebookPage.objects.filter(pk__in=[row["pk"] for row in marked]).update(
                status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=reason, updated_at=now
            )
            notify_reauthorization_required(pages=marked, reason=reason, email=True)
        found += len(marked)
    return len(pages), found


def _invalid_reason(info: TokenInfo, now: datetime) -> str:
    """Why Facebook no longer accepts the token, or "" while it does."""
    if not info.is_valid:
        # /debug_token's error subcodes are error 190's.
        if info.error_subcode in TOKEN_SUBCODE_REASONS:
            return token_invalid_reason(info.error_subcode)
        if info.error_code in (10, 200) or "permission" in (info.error_message or "").lower():
            return ReauthorizationReason.PERMISSIONS_REVOKED
        if info.expires_at is not None and info.expires_at <= now:
            return ReauthorizationReason.TOKEN_EXPIRED
        return ReauthorizationReason.TOKEN_INVALID
    if missing_permissions(info):
        return ReauthorizationReason.PERMISSIONS_REVOKED
    if info.expires_at is not None and info.expires_at <= now:
        return ReauthorizationReason.TOKEN_EXPIRED
    return ""


def _notify_expiring(pages: list[tuple[FacebookPage, datetime]]) -> None:
    """In-app notice and email to the admins, once per page and expiry."""
    by_organization: dict[int, list[tuple[FacebookPage, datetime]]] = defaultdict(list)
    for page, deadline in pages:
        by_organization[page.organization_id].append((page, deadline))
    organizations = Organization.objects.in_bulk(list(by_organization))
    mails: list[tuple[str, str, str, list[str]]] = []
    for organization_id, items in by_organization.items():
        organization = organizations[organization_id]
        admins = _admins(organization)
        with translation.override(organization.language):
            for page, deadline in items:
                when = date_format(timezone.localtime(deadline, _zone(organization)), "DATETIME_FORMAT")
                title = _("Facebook Page “%(page)s” must be re-authorized by %(when)s") % {
                    "page": page.name,
                    "when": when,
                }
                body = _(
                    "Messages can no longer be sent or received through this Page after that. "
                    "Open the channel and click “Re-authorize”."
                )
                url = _channel_url(organization, page.channel_id)
                fresh = notification_create(
                    organization=organization,
                    user_ids=[user_id for user_id, _email in admins],
                    kind=Notification.Kind.TOKEN_EXPIRING,
                    title=title,
                    body=body,
                    url=url,
                    dedupe_key=f"page-expiring:{page.pk}:{deadline.timestamp():.6f}",
                )
                if fresh:
                    link = f"{settings.PUBLIC_URL}{url}"
                    mails.extend(
                        (title, f"{body}\n\n{link}\n", settings.DEFAULT_FROM_EMAIL, [email])
                        for _user_id, email in admins
                        if email
                    )
    send_mails_after_commit(mails)


def _admins(organization: Organization) -> list[tuple[int, str]]:
    return list(
        Membership.objects.filter(organization=organization, role=Role.ADMIN, is_active=True).values_list(
            "user_id", "user__email"
        )
    )


def _zone(organization: Organization) -> Any:
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(organization.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


def _channel_url(organization: Organization, channel_id: int) -> str:
    return reverse("channels:channel_edit", kwargs={"org_slug": organization.slug, "channel_id": channel_id})


def linked_elsewhere(*, organization: Organization, channel: Channel, page_ids: Iterable[str]) -> dict[str, str]:
    """For the picker: {page_id: "this_channel" | "other_channel"} for pages linked already."""
    rows = FacebookPage.objects.filter(page_id__in=list(page_ids), unlinked_at__isnull=True).values_list(
        "page_id", "channel_id"
    )
    return {page_id: "this_channel" if channel_id == channel.pk else "other_channel" for page_id, channel_id in rows}
