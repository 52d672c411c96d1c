"""Facebook Pages linked to Messenger channels (FacebookPage): the status of a page's
authorization and the reasons and causes of its changes (messenger.pages.authorization
writes them), what the daily check found of its webhook subscription, and how many events
arrived for it hour by hour."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from channels.models import Channel
from helpdesk.models import Organization


class PageStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    EXPIRING_SOON = "expiring_soon", _("Expiring soon")
    REAUTHORIZATION_REQUIRED = "reauthorization_required", _("Re-authorization required")


class ReauthorizationReason(models.TextChoices):
    TOKEN_EXPIRED = "token_expired", _("Token expired")
    PERMISSIONS_REVOKED = "permissions_revoked", _("Permissions revoked")
    APP_ACCESS_REVOKED = "app_access_revoked", _("App access revoked")
    PAGE_ADDED = "page_added", _("Page newly added to the channel")
    PAGE_REMOVED = "page_removed", _("Page removed from the channel")
    POLICY_EXPIRED = "policy_expired", _("60 days since authorization")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    TOKEN_INVALID = "token_invalid", _("Token no longer valid")
    # Error 190's other subcodes (messenger.graph.TOKEN_SUBCODE_REASONS maps them here).
    USER_CHECKPOINT = "user_checkpoint", _("Facebook holds the authorizing account at a security checkpoint")
    USER_UNCONFIRMED = "user_unconfirmed", _("The authorizing Facebook account is not confirmed")
    SESSION_INVALID = "session_invalid", _("The authorizing person logged out of Facebook or their session ended")
    PAGE_ROLE_LOST = "page_role_lost", _("The authorizing person no longer has a role on the Page")
    USER_INACTIVE = "user_inactive", _("The authorizing person has not used Facebook for 90 days")
    # Meta's data deletion callback: the person who authorized the page removed the app and
    # asked for their data to be deleted (privacy.deletion).
    DATA_DELETION = "data_deletion", _("The authorizing person asked Facebook to delete their data")


class PageStatusCause(models.TextChoices):
    """Why a page's status changed when no re-authorization reason says it: stored in the audit
    log's entry of the change (messenger.pages.authorization), shown in the reader's language."""

    LINK_CHECKED = "link_checked", _("Token checked and the app subscribed")
    EXPIRY_NEAR = "expiry_near", _("Re-authorization is due soon")
    TOKEN_RENEWED = "token_renewed", _("Token renewed before its deadline")


class SubscriptionState(models.TextChoices):
    """What the daily check of the page's `subscribed_apps` found (messenger.pages.health)."""

    UNKNOWN = "unknown", _("Not checked yet")
    SUBSCRIBED = "subscribed", _("Subscribed")
    RESUBSCRIBED = "resubscribed", _("Dropped by Facebook, subscribed again")
    DROPPED = "dropped", _("Dropped by Facebook, not subscribed again yet")


class FacebookPage(models.Model):
    """One linking of a Facebook Page to a channel.

    A page is linked to at most one live channel in the whole service (webhooks are routed
    by page id): the partial unique constraint holds that. Removing a page sets
    `unlinked_at`; its conversations stay with this row.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="facebook_pages")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="facebook_pages")
    page_id = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    access_token_encrypted = models.TextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    authorized_at = models.DateTimeField(null=True, blank=True)
    token_checked_at = models.DateTimeField(null=True, blank=True)
    # The app-scoped Facebook user id of the person whose Facebook Login gave the current token
    # (debug_token's user_id): Meta's data deletion callback names that person.
    authorized_by_facebook_user = models.CharField(max_length=40, blank=True, db_index=True)
    status = models.CharField(max_length=30, choices=PageStatus.choices, default=PageStatus.ACTIVE)
    reauthorization_reason = models.CharField(max_length=30, choices=ReauthorizationReason.choices, blank=True)
    # The expiry the admins were last warned about, so that each expiry is announced once.
    expiry_warned_for = models.DateTimeField(null=True, blank=True)
    unlinked_at = models.DateTimeField(null=True, blank=True)
    # Page health (messenger.pages.health): the app's webhook subscription as last checked,
    # when Facebook was last found to have dropped it and when it was subscribed again.
    subscription_state = models.CharField(
        max_length=12, choices=SubscriptionState.choices, default=SubscriptionState.UNKNOWN
    )
    subscription_checked_at = models.DateTimeField(null=True, blank=True)
    subscription_dropped_at = models.DateTimeField(null=True, blank=True)
    resubscribed_at = models.DateTimeField(null=True, blank=True)
    # The latest webhook event for the page and the latest message sent through it, written
    # at most once a minute; `silent_since` is set while the page is unusually quiet.
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    silent_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["page_id"], condition=models.Q(unlinked_at__isnull=True), name="facebook_page_linked_once"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "channel"]),
            models.Index(fields=["status", "token_expires_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.page_id})"


class PageActivityHour(models.Model):
    """How many webhook events arrived for a page in one hour (UTC, the hour's start): counted
    when they are received, so that "is this page unusually silent?" reads a few rows of its
    own history instead of the messages."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Leads the unique constraint: no index of its own.
    page = models.ForeignKey(FacebookPage, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()
    events = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["page", "hour"], name="page_activity_hour_unique")]

    def __str__(self) -> str:
        return f"page {self.page_id} {self.hour:%Y-%m-%d %H}:00 {self.events}"
