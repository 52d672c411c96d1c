"""What Facebook takes back from the app, on the sandbox's controls page or in a test::

    sandbox_tokens_expire(page_id=...)        # calls then fail with 190/463
    sandbox_password_change(user=user)        # 190/460
    sandbox_app_remove(user=user)             # 190/458
    sandbox_permission_revoke(user=user, permission="pages_messaging")   # Send API: code 10

Each applies at once: the sandbox checks the token and the permissions on every call.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from messenger.sandbox.models import SandboxPage, SandboxSubscription, SandboxToken, SandboxUser
from messenger.sandbox.tokens import SUBCODE_APP_REMOVED, app_removed_message


def sandbox_tokens_expire(*, user: SandboxUser | None = None, page_id: str | None = None) -> int:
    """Expire tokens now (then 190/463): a person's (user and page tokens alike), a page's,
    or, with neither argument, every token. Returns how many expired."""
    tokens = SandboxToken.objects.all()
    if user is not None:
        tokens = tokens.filter(user=user)
    if page_id is not None:
        tokens = tokens.filter(page__page_id=page_id)
    now = timezone.now()
    alive = tokens.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return alive.update(expires_at=now - timedelta(seconds=1))


@transaction.atomic
def sandbox_permission_revoke(*, user: SandboxUser, permission: str) -> None:
    """The person removes one permission in their settings: tokens stay valid, calls that
    need it fail (Send API and profiles: code 10; page metadata and accounts: code 200)."""
    user.refresh_from_db()
    user.granted_permissions = [p for p in user.granted_permissions if p != permission]
    if permission not in user.declined_permissions:
        user.declined_permissions = [*user.declined_permissions, permission]
    user.save(update_fields=["granted_permissions", "declined_permissions"])


@transaction.atomic
def sandbox_app_remove(*, user: SandboxUser) -> None:
    """The person removes the app: every token dies for good (190/458), grants and the
    app's page subscriptions go; logging in again installs it afresh."""
    now = timezone.now()
    SandboxToken.objects.filter(user=user, invalid_code__isnull=True).update(
        invalid_code=190, invalid_subcode=SUBCODE_APP_REMOVED, invalid_message=app_removed_message(), invalidated_at=now
    )
    SandboxSubscription.objects.filter(page__owner=user).delete()
    SandboxUser.objects.filter(pk=user.pk).update(app_installed=False, granted_permissions=[])
    user.refresh_from_db()


def sandbox_password_change(*, user: SandboxUser) -> None:
    """Tokens issued before now fail with 190/460."""
    SandboxUser.objects.filter(pk=user.pk).update(password_generation=F("password_generation") + 1)
    user.refresh_from_db()


def sandbox_subscription_drop(*, page: SandboxPage) -> bool:
    """What Facebook does after about an hour of failed webhook deliveries: the app is no
    longer subscribed to the page (``GET /{page-id}/subscribed_apps`` lists nothing) until it
    calls ``POST /{page-id}/subscribed_apps`` again."""
    return bool(SandboxSubscription.objects.filter(page=page).delete()[0])
