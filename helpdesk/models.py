"""Tenancy: organizations, their departments, members and API tokens; notifications."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

UNASSIGNED_ALERT_DEFAULT_MINUTES = 10
UNASSIGNED_ALERT_MIN_MINUTES = 1
UNASSIGNED_ALERT_MAX_MINUTES = 1440
# How long before a Messenger reply window closes its unanswered conversations are flagged
# (messenger.window_alerts; the windows themselves are messenger.reply_window's). The
# bounds keep each alert inside the window it warns of: under the 24-hour window's length,
# and no earlier than the 7-day window's human-agent part begins (tests hold them to
# reply_window's lengths).
RESPONSE_WINDOW_ALERT_DEFAULT_MINUTES = 120
RESPONSE_WINDOW_ALERT_MIN_MINUTES = 5
RESPONSE_WINDOW_ALERT_MAX_MINUTES = 1380
HUMAN_AGENT_WINDOW_ALERT_DEFAULT_HOURS = 24
HUMAN_AGENT_WINDOW_ALERT_MIN_HOURS = 1
HUMAN_AGENT_WINDOW_ALERT_MAX_HOURS = 144


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="en")
    # Admins are told of a conversation left without an agent this long (helpdesk.alerts).
    unassigned_alert_minutes = models.PositiveSmallIntegerField(
        _("unassigned conversation alert (minutes)"),
        default=UNASSIGNED_ALERT_DEFAULT_MINUTES,
        validators=[MinValueValidator(UNASSIGNED_ALERT_MIN_MINUTES), MaxValueValidator(UNASSIGNED_ALERT_MAX_MINUTES)],
    )
    # A conversation whose customer is unanswered this long before its 24-hour reply window
    # closes, and before its 7-day human-agent window closes, is flagged and its assignee (or
    # its department's admins) told (messenger.window_alerts).
    response_window_alert_minutes = models.PositiveSmallIntegerField(
        _("24-hour window alert (minutes before it closes)"),
        default=RESPONSE_WINDOW_ALERT_DEFAULT_MINUTES,
        validators=[
            MinValueValidator(RESPONSE_WINDOW_ALERT_MIN_MINUTES),
            MaxValueValidator(RESPONSE_WINDOW_ALERT_MAX_MINUTES),
        ],
    )
    human_agent_window_alert_hours = models.PositiveSmallIntegerField(
        _("7-day window alert (hours before it closes)"),
        default=HUMAN_AGENT_WINDOW_ALERT_DEFAULT_HOURS,
        validators=[
            MinValueValidator(HUMAN_AGENT_WINDOW_ALERT_MIN_HOURS),
            MaxValueValidator(HUMAN_AGENT_WINDOW_ALERT_MAX_HOURS),
        ],
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    """A team of the organization: its members answer its channels and hold its tickets.

    Deleting a department keeps the row (`deleted_at`): what was filed under it, deleted
    channels with their conversations and tickets made in it, keeps pointing at it and
    stays readable with its name. A deleted department leaves every list and choice, frees
    its name and no longer counts towards the channel limit.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="departments")
    name = models.CharField(_("name"), max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # "Support" and "support" are one name.
            models.UniqueConstraint(
                models.F("organization"),
                Lower("name"),
                condition=models.Q(deleted_at__isnull=True),
                name="department_name_unique_per_org",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """Its name where history shows it: marked when the department was deleted since."""
        if self.deleted_at is None:
            return self.name
        return _("%(name)s (deleted)") % {"name": self.name}


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    AGENT = "agent", _("Agent")


class Membership(models.Model):
    """A user's place in one organization: a role and the departments they work in."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.AGENT)
    departments = models.ManyToManyField(Department, blank=True, related_name="memberships")
    is_active = models.BooleanField(_("active"), default=True)
    # The member's own choices (Preferences); blank: the organization's.
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_per_org"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def reading_language(self) -> str:
        """The language the member reads the helpdesk (and its emails) in: their own, else the organization's."""
        return self.language or self.organization.language

    @property
    def reading_time_zone(self) -> str:
        """The time zone the member reads times in: their own, else the organization's."""
        return self.time_zone or self.organization.time_zone


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A secret that authenticates a member to the REST API of one organization.

    Only a hash is stored: the key is shown once, when it is created.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_tokens")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "membership"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def generate_key() -> str:
        return "hd_" + secrets.token_urlsafe(32)

    @staticmethod
    def hash_key(key: str) -> str:
        return _hash_key(key)


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    REVOKED = "revoked", _("Revoked")
    EXPIRED = "expired", _("Expired")


class Invitation(models.Model):
    """An admin's offer to join the organization, sent by email with a secret link.

    Nobody joins an organization without accepting one. Only a hash of the link's token is
    kept; the token travels once, in the email. An invitation is answered once: accepted,
    declined or revoked, and it expires after seven days
    (helpdesk.services.INVITATION_VALID_FOR).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email address"))
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.AGENT)
    departments = models.ManyToManyField(Department, blank=True, related_name="invitations")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    declined_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "created_at"])]
        constraints = [
            # One open invitation per address and organization (an expired one is closed
            # by the next invitation to that address, see invitation_create).
            models.UniqueConstraint(
                models.F("organization"),
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, declined_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.organization}"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return InvitationStatus.ACCEPTED
        if self.declined_at is not None:
            return InvitationStatus.DECLINED
        if self.revoked_at is not None:
            return InvitationStatus.REVOKED
        if self.expires_at <= timezone.now():
            return InvitationStatus.EXPIRED
        return InvitationStatus.PENDING

    @staticmethod
    def generate_token() -> str:
        return secrets.token_urlsafe(32)

    @staticmethod
    def hash_token(token: str) -> str:
        return _hash_key(token)


class Notification(models.Model):
    class Kind(models.TextChoices):
        NEW_CONVERSATION = "new_conversation", _("New conversation")
        CONVERSATION_FORWARDED = "conversation_forwarded", _("Conversation forwarded")
        PAGE_REAUTHORIZATION = "page_reauthorization", _("Page needs re-authorization")
        TOKEN_EXPIRING = "token_expiring", _("Token expiring")
        MENTION = "mention", _("Mentioned in a note")
        UNASSIGNED_TOO_LONG = "unassigned_too_long", _("Conversation unassigned too long")
        WINDOW_CLOSING = "window_closing", _("Reply window closing")
        SLA_AT_RISK = "sla_at_risk", _("SLA target at risk")
        SLA_BREACHED = "sla_breached", _("SLA target breached")
        PAGE_SUBSCRIPTION_DROPPED = "page_subscription_dropped", _("Page subscription dropped")
        PAGE_SILENT = "page_silent", _("Page is silent")
        WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint_disabled", _("Webhook endpoint disabled")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    # What the notice is about (names, ids, codes, ISO times): its words are written when it is
    # read, in the reader's language and time zone (helpdesk.notifications). None on rows
    # from before, which show `title` and `body` as they were stored.
    params = models.JSONField(null=True, blank=True)
    # In the organization's language when stored: the fallback (see helpdesk.notifications).
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    # Makes "told once" a database rule: the same notice for the same subject is not repeated.
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "user", "read_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="notification_dedupe",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class AlertPreferences(models.Model):
    """Which events a member is alerted of, and which ways (Preferences; helpdesk.alerts).

    No row: the defaults (every event; in the app, on the desktop and by email, no sound)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="alert_preferences")
    # Events.
    new_conversation = models.BooleanField(_("a new conversation in my queue or views"), default=True)
    customer_message = models.BooleanField(_("a customer's message in a conversation assigned to me"), default=True)
    mention = models.BooleanField(_("a mention of me in a note"), default=True)
    unassigned_too_long = models.BooleanField(_("a conversation unassigned too long (admins)"), default=True)
    window_closing = models.BooleanField(_("a reply window closing on an unanswered customer"), default=True)
    sla = models.BooleanField(_("an SLA target at risk or breached"), default=True)
    # Ways.
    in_app = models.BooleanField(_("in the app (the bell)"), default=True)
    desktop = models.BooleanField(_("desktop notification"), default=True)
    sound = models.BooleanField(_("sound"), default=False)
    email = models.BooleanField(_("email"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"alerts of {self.membership_id}"


class IdempotencyKey(models.Model):
    """A POST to the API sent with an `Idempotency-Key` header, and the answer it got
    (helpdesk.idempotency). One per key and caller (`scope`: the API token, or the user of a
    session) within an organization; kept IDEMPOTENCY_KEY_RETENTION_HOURS."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=40)
    key = models.CharField(max_length=255)
    # SHA-256 of the method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Empty while the first request is being answered.
    completed_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    response_body = models.BinaryField(default=b"")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "scope", "key"], name="idempotency_key_unique_per_caller")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
