"""When a page's authorization runs out: the one statement of the product's policy.

A page must be re-authorized by the earlier of the token's own expiry (as /debug_token
reports it) and `authorized_at + TOKEN_REAUTHORIZATION_DAYS` (the policy, which also covers
tokens Facebook says never expire); admins are warned TOKEN_EXPIRY_WARNING_DAYS before.
`reauthorize_by_expression` is the same rule in SQL, for the set-based sweep.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import DateTimeField, ExpressionWrapper, F
from django.db.models.functions import Coalesce, Least

from messenger.models import FacebookPage, ReauthorizationReason


def policy_deadline(*, authorized_at: datetime | None, created_at: datetime | None) -> datetime | None:
    """The policy's end: TOKEN_REAUTHORIZATION_DAYS after the last authorization (or creation)."""
    authorized = authorized_at or created_at
    return authorized + timedelta(days=settings.TOKEN_REAUTHORIZATION_DAYS) if authorized else None


def reauthorize_by(page: FacebookPage) -> datetime | None:
    """When the page's authorization runs out: token expiry or the policy, whichever first."""
    deadline = policy_deadline(authorized_at=page.authorized_at, created_at=page.created_at)
    candidates = [moment for moment in (page.token_expires_at, deadline) if moment is not None]
    return min(candidates) if candidates else None


def expiry_reason(
    *, token_expires_at: datetime | None, authorized_at: datetime | None, created_at: datetime | None
) -> ReauthorizationReason:
    """Why a page past its reauthorize-by time must be re-authorized: its token ran out first,
    or the policy did."""
    deadline = policy_deadline(authorized_at=authorized_at, created_at=created_at)
    if token_expires_at is not None and (deadline is None or token_expires_at <= deadline):
        return ReauthorizationReason.TOKEN_EXPIRED
    return ReauthorizationReason.POLICY_EXPIRED


def warning_horizon(now: datetime) -> datetime:
    """Pages whose reauthorize-by time falls before this are "expiring soon"."""
    return now + timedelta(days=settings.TOKEN_EXPIRY_WARNING_DAYS)


def reauthorize_by_expression() -> Least:
    """reauthorize_by() in SQL."""
    policy = ExpressionWrapper(
        Coalesce(F("authorized_at"), F("created_at")) + timedelta(days=settings.TOKEN_REAUTHORIZATION_DAYS),
        output_field=DateTimeField(),
    )
    return Least(Coalesce(F("token_expires_at"), policy), policy, output_field=DateTimeField())
