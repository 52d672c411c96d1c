"""The hourly token expiry sweep (the task messenger.tasks.pages.token_expiry_sweep): pages near or past
their reauthorize-by time (messenger.pages.policy), and a bounded batch of /debug_token
checks. It selects and locks; the transitions are messenger.pages.authorization's."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from messenger import client
from messenger.crypto import TokenDecryptionError, decrypt_token
from messenger.graph import TOKEN_SUBCODE_REASONS, GraphError, TokenInfo, token_invalid_reason
from messenger.models import FacebookPage, PageStatus, ReauthorizationReason
from messenger.pages.authorization import (
    NOTICE_FIELDS,
    pages_authorization_mark_active_again,
    pages_authorization_mark_expired,
    pages_authorization_mark_expiring,
    pages_authorization_mark_refused,
    pages_authorization_record_expiry,
)
from messenger.pages.grants import missing_permissions
from messenger.pages.policy import expiry_reason, reauthorize_by, reauthorize_by_expression, warning_horizon

logger = logging.getLogger(__name__)


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


def _linked_pages() -> Any:
    return FacebookPage.objects.filter(unlinked_at__isnull=True)


def token_expiry_sweep(*, now: datetime | None = None, check_limit: int | None = None) -> SweepReport:
    """One pass of the hourly job. Set-based and idempotent: a second run changes nothing."""
    now = now or timezone.now()
    report = SweepReport()
    report.expired = _sweep_expired(now)
    report.warned = _sweep_expiring(now)
    report.back_to_active = pages_authorization_mark_active_again(now=now)
    report.checked, report.invalid = _sweep_debug_tokens(
        now, settings.TOKEN_CHECK_BATCH_SIZE if check_limit is None else check_limit
    )
    return report


def _sweep_expired(now: datetime) -> int:
    """Past the reauthorize-by time → re-authorization required (token expired or the policy)."""
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                _linked_pages()
                .exclude(status=PageStatus.REAUTHORIZATION_REQUIRED)
                .alias(reauthorize_by=reauthorize_by_expression())
                .filter(reauthorize_by__lte=now)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values(*NOTICE_FIELDS, "token_expires_at")[:SWEEP_BATCH]
            )
            if not rows:
                return total
            by_reason: dict[ReauthorizationReason, list[dict[str, Any]]] = defaultdict(list)
            for row in rows:
                reason = expiry_reason(
                    token_expires_at=row["token_expires_at"],
                    authorized_at=row["authorized_at"],
                    created_at=row["created_at"],
                )
                by_reason[reason].append(row)
            for reason, reason_rows in by_reason.items():
                pages_authorization_mark_expired(pages=reason_rows, reason=reason, now=now)
        total += len(rows)
        if len(rows) < SWEEP_BATCH:
            return total


def _sweep_expiring(now: datetime) -> int:
    """Within the warning window of it → expiring soon; the admins are told once per expiry."""
    candidates = (
        _linked_pages()
        .filter(status__in=[PageStatus.ACTIVE, PageStatus.EXPIRING_SOON])
        .alias(reauthorize_by=reauthorize_by_expression())
        .filter(reauthorize_by__gt=now, reauthorize_by__lte=warning_horizon(now))
    )
    # Pages already warned about this very expiry change nothing (compared in Python:
    # SQLite keeps date arithmetic as text).
    warned_total = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            pages = list(
                candidates.filter(pk__gt=last_pk)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .only(*NOTICE_FIELDS, "token_expires_at", "expiry_warned_for")[:SWEEP_BATCH]
            )
            if not pages:
                return warned_total
            last_pk = pages[-1].pk
            with_deadlines = [(page, deadline) for page in pages if (deadline := reauthorize_by(page)) is not None]
            warned_total += pages_authorization_mark_expiring(pages=with_deadlines, now=now)
        if len(pages) < SWEEP_BATCH:
            return warned_total


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
    graph = client.graph_client()
    for page in pages:
        try:
            info = graph.debug_token(input_token=decrypt_token(page.access_token_encrypted))
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
    pages_authorization_record_expiry(pages=new_expiries)
    found = 0
    for reason, reason_pages in invalid.items():
        marked = pages_authorization_mark_refused(
            refused=[(page.pk, page.access_token_encrypted) for page in reason_pages], reason=reason, now=now
        )
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
