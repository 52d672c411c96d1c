"""The sandbox's own picture of Facebook: people, their pages, the tokens it issued, the
customers who write to the pages, and everything the product sent or was sent.

None of this is product data: no organization, no tenancy. Tokens and authorization codes
are kept only as SHA-256 hashes (and a four-character hint for the controls page).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class SandboxUser(models.Model):
    """A Facebook person who can log in through the sandbox dialog."""

    facebook_id = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    # Bumped by a password change: tokens issued under an older generation die with 190/460.
    password_generation = models.PositiveIntegerField(default=1)
    granted_permissions = models.JSONField(default=list, blank=True)
    declined_permissions = models.JSONField(default=list, blank=True)
    app_installed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.facebook_id})"


DEFAULT_PAGE_TASKS = ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"]


def _default_page_tasks() -> list[str]:
    return list(DEFAULT_PAGE_TASKS)


class SandboxPage(models.Model):
    """A Facebook Page; ``owner`` is the one person with a role on it, ``tasks`` that role."""

    page_id = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, default="Business")
    owner = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="pages")
    tasks = models.JSONField(default=_default_page_tasks)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["page_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.page_id})"


class TokenKind(models.TextChoices):
    USER_SHORT = "user_short", "User (short-lived)"
    USER_LONG = "user_long", "User (long-lived)"
    PAGE = "page", "Page"


class SandboxToken(models.Model):
    """An access token the sandbox issued. Validity is worked out by ``tokens.token_problem``."""

    token_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=8)
    kind = models.CharField(max_length=12, choices=TokenKind.choices)
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="tokens")
    page = models.ForeignKey(SandboxPage, on_delete=models.CASCADE, null=True, blank=True, related_name="tokens")
    issued_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True)
    password_generation = models.PositiveIntegerField()
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)  # null: never (page tokens)
    data_access_expires_at = models.DateTimeField()
    # Set when an event killed the token for good (the app was removed).
    invalid_code = models.PositiveIntegerField(null=True, blank=True)
    invalid_subcode = models.PositiveIntegerField(null=True, blank=True)
    invalid_message = models.CharField(max_length=300, blank=True)
    invalidated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} token …{self.hint}"


class SandboxAuthCode(models.Model):
    """A login dialog's ``code``: single use, bound to the dialog's ``redirect_uri``."""

    code_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="auth_codes")
    redirect_uri = models.TextField()
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Code for {self.user_id} ({'used' if self.used_at else 'unused'})"


class SandboxSubscription(models.Model):
    """The app's webhook subscription to a page (``POST /{page-id}/subscribed_apps``)."""

    page = models.OneToOneField(SandboxPage, on_delete=models.CASCADE, related_name="subscription")
    subscribed_fields = models.JSONField(default=list)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Subscription of page {self.page_id}: {', '.join(self.subscribed_fields)}"


class SandboxCustomer(models.Model):
    """A Messenger user as one page sees them (a PSID is page-scoped), or a guest of the
    page's chat plugin (`is_guest`): no Facebook account, so no PSID and no profile; it is
    known and answered by a `user_ref`, kept in `psid`."""

    page = models.ForeignKey(SandboxPage, on_delete=models.CASCADE, related_name="customers")
    psid = models.CharField(max_length=32)
    is_guest = models.BooleanField(default=False)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    # False: profile lookups fail with 2018218, as for people who restrict their profile.
    has_profile = models.BooleanField(default=True)
    # The sandbox's window clock: the customer's latest message as Facebook knows it.
    last_message_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["page_id", "id"]
        constraints = [models.UniqueConstraint(fields=["page", "psid"], name="graph_sandbox_customer_psid_per_page")]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.psid})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class SandboxCustomerMessage(models.Model):
    """What a customer sent the page, as posted to the product's webhook."""

    customer = models.ForeignKey(SandboxCustomer, on_delete=models.CASCADE, related_name="messages")
    mid = models.CharField(max_length=120, unique=True)
    text = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)
    sticker_id = models.BigIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField()
    webhook_status = models.IntegerField(null=True, blank=True)  # 0: the product could not be reached

    class Meta:
        ordering = ["sent_at", "id"]

    def __str__(self) -> str:
        return self.mid


class SandboxSendCall(models.Model):
    """One Send API request, whatever came of it: the body as received, the answer given."""

    page = models.ForeignKey(SandboxPage, on_delete=models.CASCADE, null=True, blank=True, related_name="send_calls")
    # The recipient: a PSID, or the user_ref of a chat-plugin guest (`to_user_ref`).
    psid = models.CharField(max_length=64, blank=True)
    to_user_ref = models.BooleanField(default=False)
    request_body = models.JSONField(default=dict)
    messaging_type = models.CharField(max_length=20, blank=True)
    tag = models.CharField(max_length=40, blank=True)
    sender_action = models.CharField(max_length=20, blank=True)
    text = models.TextField(blank=True)
    metadata = models.TextField(blank=True)
    http_status = models.PositiveSmallIntegerField()
    response = models.JSONField(default=dict)
    error_code = models.PositiveIntegerField(null=True, blank=True)
    error_subcode = models.PositiveIntegerField(null=True, blank=True)
    message_id = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["page", "psid", "created_at"], name="graph_sandbox_send_thread")]

    def __str__(self) -> str:
        return f"Send API {self.http_status} to {self.psid or '?'}"

    @property
    def succeeded(self) -> bool:
        return self.http_status == 200


class SandboxSendFailure(models.Model):
    """A scripted failure: the next ``remaining`` Send API calls of the page answer this."""

    page = models.ForeignKey(SandboxPage, on_delete=models.CASCADE, related_name="scripted_failures")
    http_status = models.PositiveSmallIntegerField()
    code = models.PositiveIntegerField(null=True, blank=True)
    subcode = models.PositiveIntegerField(null=True, blank=True)
    is_transient = models.BooleanField(default=False)
    message = models.CharField(max_length=300)
    remaining = models.PositiveIntegerField(default=1)
    # Sleep this long before answering (longer than the client's timeout: a timeout).
    delay_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.remaining} × HTTP {self.http_status} #{self.code}"


class WebhookKind(models.TextChoices):
    ECHO = "echo", "Echo"
    DELIVERY = "delivery", "Delivery"


class SandboxOutboundWebhook(models.Model):
    """A webhook the sandbox owes the product, kept as the exact bytes that will be signed."""

    page = models.ForeignKey(SandboxPage, on_delete=models.CASCADE, related_name="outbound_webhooks")
    send_call = models.ForeignKey(SandboxSendCall, on_delete=models.CASCADE, null=True, blank=True)
    kind = models.CharField(max_length=12, choices=WebhookKind.choices)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    # A lease instead of a row lock: no transaction stays open while the product is called.
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    abandoned_at = models.DateTimeField(null=True, blank=True)
    last_status = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["delivered_at", "abandoned_at"], name="graph_sandbox_webhook_pending")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} webhook {self.pk}"


class SandboxUpload(models.Model):
    """A file uploaded with the Attachment Upload API (``POST /{page-id}/message_attachments``)
    or with a multipart Send API call: the bytes as they arrived, for the simulator to show
    and for tests to compare."""

    attachment_id = models.CharField(max_length=32, unique=True)
    page = models.ForeignKey(SandboxPage, on_delete=models.CASCADE, related_name="uploads")
    attachment_type = models.CharField(max_length=10)
    file_name = models.CharField(max_length=255, blank=True)
    # As the uploader declared it for the file part; what it is comes from the bytes.
    declared_content_type = models.CharField(max_length=100, blank=True)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    data = models.BinaryField()
    is_reusable = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Upload {self.attachment_id} ({self.attachment_type}, {self.size} bytes)"
