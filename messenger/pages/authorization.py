"""A page's authorization as one state machine, and the only writer of it.

States (`status`) and the transitions between them:

- linked (a page chosen for a channel) → re-authorization required, reason "page newly added",
  until its token is checked and the app subscribed → active;
- active → expiring soon, when its reauthorize-by time (messenger.pages.policy) is near;
  expiring soon → active again when the token was renewed;
- any → re-authorization required with a reason: the deadline passed, Facebook refused the
  token (compare-and-set on the refused token), or the page was removed (unlinked);
- re-authorization required → active, by a new pass through Facebook Login;
- any linked page → re-authorization required, reason "data deletion", its token and the
  record of who authorized it erased, when the person who authorized it asks Meta to delete
  their data (the data deletion callback, privacy.deletion).

Every change of a page's `status` and `reauthorization_reason` is one of the functions below
(tests/messenger/test_page_status_writers.py keeps it so), and so is the token, expiry and
unlinking that go with it; linking, the sweep, the Graph-call wrapper and the demo seeding
ask them. When pages come to need re-authorization, their organization's admins are told
(messenger.pages.notices) and API clients hear of it once per transition, in its transaction
(helpdesk.signals.PAGE_NEEDS_REAUTHORIZATION); a page an admin links or removes is neither.
Every change of the state is in the audit log: django-auditlog records the pages saved, and
the changes made by a statement (the sweeps, the compare-and-set updates) are told to it
(helpdesk.signals.rows_changed), one entry per page with the reason, in one insert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from helpdesk import signals
from messenger.crypto import encrypt_token
from messenger.models import FacebookPage, PageStatus, PageStatusCause, ReauthorizationReason
from messenger.pages.notices import notify_expiring, notify_reauthorization_required
from messenger.pages.policy import reauthorize_by_expression, warning_horizon

# A page's authorization state.
STATE_FIELDS = ("status", "reauthorization_reason")
# What a notice about a page, and the audit entry of its change, need (rows of .values(*NOTICE_FIELDS)).
NOTICE_FIELDS = ("pk", "organization_id", "channel_id", "page_id", "name", "authorized_at", "created_at", *STATE_FIELDS)


def page_authorization_mark_linked(*, page: FacebookPage, page_token: str, now: datetime) -> None:
    """A page chosen for a channel, with the token Facebook just gave: saved (claiming it;
    IntegrityError when another channel holds it), and waiting for its token check and
    subscription ("re-authorization required: page newly added") unless it was active already."""
    page.access_token_encrypted = encrypt_token(page_token)
    page.authorized_at = now
    page.unlinked_at = None
    if page.pk is None or page.status != PageStatus.ACTIVE:
        page.status = PageStatus.REAUTHORIZATION_REQUIRED
        page.reauthorization_reason = ReauthorizationReason.PAGE_ADDED
    page.save()


def page_authorization_mark_active(
    *, page: FacebookPage, token_expires_at: datetime | None, now: datetime, authorized_by: str | None = None
) -> None:
    """The linked page's token checked and the app subscribed to it: the page works.
    `authorized_by`: the Facebook user id the token check named (who linked it)."""
    before = {field: getattr(page, field) for field in NOTICE_FIELDS}
    FacebookPage.objects.filter(pk=page.pk).update(
        authorized_by_facebook_user=(authorized_by or "")[:40],
        status=PageStatus.ACTIVE,
        reauthorization_reason="",
        token_expires_at=token_expires_at,
        token_checked_at=now,
        expiry_warned_for=None,
        updated_at=now,
    )
    page.status, page.reauthorization_reason = PageStatus.ACTIVE, ""
    _record([before], status=PageStatus.ACTIVE, reason="", cause=PageStatusCause.LINK_CHECKED)


def page_authorization_renew(
    *,
    page: FacebookPage,
    page_token: str,
    token_expires_at: datetime | None,
    now: datetime,
    authorized_by: str | None = None,
) -> None:
    """A new pass through Facebook Login: the new token, active again, its new expiry; a page
    removed from its channel is linked to it again (IntegrityError when another channel holds
    it). Saves the whole page, so a new name set by the caller is kept too."""
    page.access_token_encrypted = encrypt_token(page_token)
    page.authorized_by_facebook_user = (authorized_by or "")[:40]
    page.token_expires_at = token_expires_at
    page.authorized_at = now
    page.token_checked_at = now
    page.status = PageStatus.ACTIVE
    page.reauthorization_reason = ""
    page.expiry_warned_for = None
    page.unlinked_at = None
    page.save()


def page_authorization_mark_removed(*, page: FacebookPage, now: datetime) -> None:
    """Unlinked from its channel: the token forgotten, linking it again goes through Facebook Login."""
    page.unlinked_at = now
    page.status = PageStatus.REAUTHORIZATION_REQUIRED
    page.reauthorization_reason = ReauthorizationReason.PAGE_REMOVED
    page.access_token_encrypted = ""
    page.save(update_fields=["unlinked_at", "status", "reauthorization_reason", "access_token_encrypted", "updated_at"])


def pages_authorization_mark_removed(*, pages: QuerySet[FacebookPage], now: datetime) -> int:
    """page_authorization_mark_removed for every page of the queryset (locked by the caller), in
    one statement."""
    before = list(pages.values(*NOTICE_FIELDS))
    removed = pages.update(
        unlinked_at=now,
        status=PageStatus.REAUTHORIZATION_REQUIRED,
        reauthorization_reason=ReauthorizationReason.PAGE_REMOVED,
        access_token_encrypted="",
        updated_at=now,
    )
    reason = ReauthorizationReason.PAGE_REMOVED
    _record(before, status=PageStatus.REAUTHORIZATION_REQUIRED, reason=reason, cause=reason)
    return removed


def page_authorization_mark_reauthorization_required(*, page: FacebookPage, reason: str, refused_token: str) -> bool:
    """Facebook refused the page's token on a Graph call: flagged, the admins told in-app
    once. True when this call changed the page.

    Compare-and-set: `refused_token` is the stored (encrypted) token Facebook refused, and the
    page is flagged only while it still holds that one. An admin who re-authorized the page
    while the call was under way gave it a new token, and that re-authorization wins.
    """
    now = timezone.now()
    with transaction.atomic():
        before = (
            FacebookPage.objects.select_for_update()
            .filter(pk=page.pk, access_token_encrypted=refused_token)
            .values(*NOTICE_FIELDS)
            .first()
        )
        # Flagged already (by the sweep, another call): with this reason, nothing changes; with
        # another, only the reason is brought up to date.
        if before is None or (
            before["status"] == PageStatus.REAUTHORIZATION_REQUIRED and before["reauthorization_reason"] == reason
        ):
            return False
        flagged = before["status"] != PageStatus.REAUTHORIZATION_REQUIRED
        FacebookPage.objects.filter(pk=page.pk).update(
            status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=reason, updated_at=now
        )
        _record([before], status=PageStatus.REAUTHORIZATION_REQUIRED, reason=reason, cause=reason)
        page.status, page.reauthorization_reason = PageStatus.REAUTHORIZATION_REQUIRED, reason
        row = {**before, "status": page.status, "reauthorization_reason": reason}
        if flagged:
            _announce([row])
        notify_reauthorization_required(pages=[row], reason=reason)
    return True


def pages_authorization_forget_person(*, facebook_user_id: str, now: datetime) -> list[dict[str, Any]]:
    """Meta's data deletion callback for the person with this app-scoped id: every page whose
    token their Facebook Login gave loses that token and the record of who authorized it, and
    linked ones need re-authorization (reason "data deletion"); their admins are told in-app
    and by email. Returns the pages changed (NOTICE_FIELDS); a second call changes nothing."""
    if not facebook_user_id:
        return []
    with transaction.atomic():
        pages = list(
            FacebookPage.objects.select_for_update()
            .filter(authorized_by_facebook_user=facebook_user_id)
            .values(*NOTICE_FIELDS, "unlinked_at")
        )
        FacebookPage.objects.filter(pk__in=[row["pk"] for row in pages]).update(
            access_token_encrypted="", authorized_by_facebook_user="", updated_at=now
        )
        linked = [row for row in pages if row["unlinked_at"] is None]
        reason = ReauthorizationReason.DATA_DELETION
        FacebookPage.objects.filter(pk__in=[row["pk"] for row in linked]).update(
            status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=reason
        )
        _record(linked, status=PageStatus.REAUTHORIZATION_REQUIRED, reason=reason, cause=reason)
        if linked:
            _announce(row for row in linked if row["status"] != PageStatus.REAUTHORIZATION_REQUIRED)
            notify_reauthorization_required(pages=linked, reason=ReauthorizationReason.DATA_DELETION, email=True)
    return pages


def pages_authorization_mark_refused(
    *, refused: Sequence[tuple[int, str]], reason: str, now: datetime
) -> list[dict[str, Any]]:
    """The sweep's /debug_token said these (page pk, checked encrypted token) are no good:
    the linked pages still holding the checked token (compare-and-set, as above) and not
    flagged yet are flagged; the admins are told in-app and by email. Returns the pages flagged."""
    still_checked_token = Q(pk__in=[])
    for pk, token in refused:
        still_checked_token |= Q(pk=pk, access_token_encrypted=token)
    with transaction.atomic():
        marked = list(
            FacebookPage.objects.select_for_update()
            .filter(still_checked_token, unlinked_at__isnull=True)
            .exclude(status=PageStatus.REAUTHORIZATION_REQUIRED)
            .values(*NOTICE_FIELDS)
        )
        _flag(marked, reason=reason, now=now)
    return marked


def pages_authorization_record_expiry(*, pages: Iterable[FacebookPage]) -> None:
    """/debug_token reported a new expiry for these pages' tokens (`token_expires_at` set on
    each): stored while each page still holds the token that was checked (compare-and-set)."""
    for page in pages:
        FacebookPage.objects.filter(pk=page.pk, access_token_encrypted=page.access_token_encrypted).update(
            token_expires_at=page.token_expires_at
        )


def pages_authorization_mark_expired(*, pages: Iterable[Mapping[str, Any]], reason: str, now: datetime) -> None:
    """Past their reauthorize-by time (rows with NOTICE_FIELDS, locked by the caller): flagged
    with `reason`, the admins told in-app and by email."""
    _flag(list(pages), reason=reason, now=now)


def _flag(pages: list[Mapping[str, Any]], *, reason: str, now: datetime) -> None:
    """Pages that do not need re-authorization yet (locked by the caller) come to need it."""
    FacebookPage.objects.filter(pk__in=[row["pk"] for row in pages]).update(
        status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=reason, updated_at=now
    )
    _record(pages, status=PageStatus.REAUTHORIZATION_REQUIRED, reason=reason, cause=reason)
    _announce(pages)
    notify_reauthorization_required(pages=pages, reason=reason, email=True)


def _record(rows: Iterable[Mapping[str, Any]], *, status: str, reason: str, cause: str) -> None:
    """The audit log's entry of each page a statement took to `status` and `reauthorization_reason`
    (rows with NOTICE_FIELDS as they were before it), with why (`cause`); pages it left as they
    were have none."""
    signals.rows_changed_send(
        model=FacebookPage,
        changes=(
            signals.RowChange(
                organization_id=row["organization_id"],
                pk=row["pk"],
                object_repr=str(FacebookPage(name=row["name"], page_id=row["page_id"])),
                changes={
                    field: (row[field], new)
                    for field, new in (("status", status), ("reauthorization_reason", reason))
                    if row[field] != new
                },
                reason=cause,
            )
            for row in rows
        ),
    )


def _announce(pages: Iterable[Mapping[str, Any]]) -> None:
    """API clients hear of each page that came to need re-authorization (outgoing webhooks),
    once per transition and in its transaction, whatever the admins' notice settings."""
    signals.domain_events_send_each(
        type=signals.PAGE_NEEDS_REAUTHORIZATION,
        resource=signals.PAGE,
        rows=((row["organization_id"], row["pk"], None) for row in pages),
    )


def pages_authorization_mark_expiring(*, pages: Iterable[tuple[FacebookPage, datetime]], now: datetime) -> int:
    """Active or expiring-soon pages (locked by the caller) with their reauthorize-by time
    inside the warning window: expiring soon; the admins are told once per page and deadline
    (`expiry_warned_for`). Returns how many were warned."""
    changed: list[FacebookPage] = []
    before: list[dict[str, Any]] = []
    to_warn: list[tuple[FacebookPage, datetime]] = []
    for page, deadline in pages:
        if page.expiry_warned_for != deadline:
            to_warn.append((page, deadline))
        elif page.status == PageStatus.EXPIRING_SOON:
            continue
        before.append({field: getattr(page, field) for field in NOTICE_FIELDS})
        page.status = PageStatus.EXPIRING_SOON
        page.expiry_warned_for = deadline
        page.updated_at = now
        changed.append(page)
    if changed:
        FacebookPage.objects.bulk_update(changed, ["status", "expiry_warned_for", "updated_at"])
        _record(before, status=PageStatus.EXPIRING_SOON, reason="", cause=PageStatusCause.EXPIRY_NEAR)
    if to_warn:
        notify_expiring(to_warn)
    return len(to_warn)


def pages_authorization_mark_active_again(*, now: datetime) -> int:
    """Linked expiring-soon pages no longer within the warning window (their token was
    renewed): active again."""
    with transaction.atomic():
        renewed = list(
            FacebookPage.objects.filter(unlinked_at__isnull=True, status=PageStatus.EXPIRING_SOON)
            .alias(reauthorize_by=reauthorize_by_expression())
            .filter(reauthorize_by__gt=warning_horizon(now))
            .select_for_update(skip_locked=True)
            .values(*NOTICE_FIELDS)
        )
        if not renewed:
            return 0
        FacebookPage.objects.filter(pk__in=[row["pk"] for row in renewed]).update(
            status=PageStatus.ACTIVE, updated_at=now
        )
        _record(renewed, status=PageStatus.ACTIVE, reason="", cause=PageStatusCause.TOKEN_RENEWED)
    return len(renewed)
