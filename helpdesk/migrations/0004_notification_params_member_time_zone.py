"""Notifications keep their kind and parameters, and their words are written when read
(helpdesk.notifications); members may choose their own time zone.

The rows stored before kept only words, in the organization's language of the day. Those
whose words match what the helpdesk wrote then (English or Japanese, frozen below as they
were) get their parameters back; the others keep `params` empty and show their old words.
"""

import re
from datetime import UTC, datetime

from django.db import migrations, models

# The titles as the helpdesk wrote them up to this migration, in both languages.
TITLES = {
    "new_conversation": [
        "New conversation with %(name)s",
        "%(name)s との新しい会話",
    ],
    "conversation_forwarded": [
        "%(agent)s forwarded you a conversation with %(contact)s",
        "%(agent)s さんから %(contact)s との会話が転送されました",
    ],
    "page_reauthorization": [
        "Facebook Page “%(page)s” needs re-authorization",
        "Facebook ページ「%(page)s」の再認証が必要です",
    ],
    "token_expiring": [
        "Facebook Page “%(page)s” must be re-authorized by %(when)s",
        "Facebook ページ「%(page)s」を %(when)s までに再認証してください",
    ],
}
REASON_BODIES = [
    "Reason: %(reason)s. Messages cannot be sent or received through this Page until an admin re-authorizes it.",
    "理由：%(reason)s。管理者が再認証するまで、このページではメッセージを送受信できません。",
]
# messenger.models.ReauthorizationReason as it was: code → (English, Japanese) label.
REASONS = {
    "token_expired": ("Token expired", "トークンの有効期限切れ"),
    "permissions_revoked": ("Permissions revoked", "権限の取り消し"),
    "app_access_revoked": ("App access revoked", "アプリのアクセス権の取り消し"),
    "page_added": ("Page newly added to the channel", "チャネルへのページの新規追加"),
    "page_removed": ("Page removed from the channel", "チャネルからのページの連携解除"),
    "policy_expired": ("60 days since authorization", "承認から 60 日経過"),
    "password_changed": ("Password changed", "パスワードの変更"),
    "token_invalid": ("Token no longer valid", "トークンの失効"),
    "user_checkpoint": (
        "Facebook holds the authorizing account at a security checkpoint",
        "承認したアカウントが Facebook のセキュリティチェックで保留されています",
    ),
    "user_unconfirmed": (
        "The authorizing Facebook account is not confirmed",
        "承認した Facebook アカウントの本人確認が済んでいません",
    ),
    "session_invalid": (
        "The authorizing person logged out of Facebook or their session ended",
        "承認した人が Facebook からログアウトしたか、セッションが終了しました",
    ),
    "page_role_lost": (
        "The authorizing person no longer has a role on the Page",
        "承認した人がページの管理権限を失いました",
    ),
    "user_inactive": (
        "The authorizing person has not used Facebook for 90 days",
        "承認した人が90日間 Facebook を利用していません",
    ),
}
REASON_BY_LABEL = {label: code for code, labels in REASONS.items() for label in labels}
# The deadline of an expiry notice is in its deduplication key: page-expiring:<page>:<timestamp>.
EXPIRING_KEY = re.compile(r"^page-expiring:\d+:(?P<timestamp>\d+(?:\.\d+)?)$")


def _pattern(template):
    """A regex matching what `template % params` produced, one named group per parameter."""
    parts = re.split(r"%\((\w+)\)s", template)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(f"^{regex}$", re.S)


TITLE_PATTERNS = {kind: [_pattern(t) for t in templates] for kind, templates in TITLES.items()}
REASON_PATTERNS = [_pattern(t) for t in REASON_BODIES]


def _match(patterns, text):
    for pattern in patterns:
        found = pattern.match(text)
        if found:
            return found.groupdict()
    return None


def params_of(kind, title, body, dedupe_key):
    """The parameters of an old row, or None when its words cannot be read back."""
    found = _match(TITLE_PATTERNS.get(kind, []), title)
    if found is None:
        return None
    if kind == "new_conversation":
        return {"contact": found["name"], "preview": body}
    if kind == "conversation_forwarded":
        return {"agent": found["agent"], "contact": found["contact"], "note": body}
    if kind == "page_reauthorization":
        reason = _match(REASON_PATTERNS, " ".join(body.split()))
        code = REASON_BY_LABEL.get(reason["reason"]) if reason else None
        return {"page": found["page"], "reason": code} if code else None
    if kind == "token_expiring":
        key = EXPIRING_KEY.match(dedupe_key)
        if key is None:
            return None
        deadline = datetime.fromtimestamp(float(key["timestamp"]), tz=UTC)
        return {"page": found["page"], "deadline": deadline.isoformat()}
    return None


def notifications_to_params(apps, schema_editor):
    Notification = apps.get_model("helpdesk", "Notification")
    rows = Notification.objects.filter(params__isnull=True).only("pk", "kind", "title", "body", "dedupe_key")
    batch = []
    for row in rows.iterator(chunk_size=2000):
        params = params_of(row.kind, row.title, row.body, row.dedupe_key)
        if params is not None:
            row.params = params
            batch.append(row)
        if len(batch) >= 2000:
            Notification.objects.bulk_update(batch, ["params"])
            batch = []
    if batch:
        Notification.objects.bulk_update(batch, ["params"])


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0003_invitations_case_insensitive_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="time_zone",
            field=models.CharField(blank=True, max_length=64, verbose_name="time zone"),
        ),
        migrations.AddField(
            model_name="notification",
            name="params",
            field=models.JSONField(blank=True, null=True),
        ),
        # Back: the words were kept, only the parameters are dropped with the column.
        migrations.RunPython(notifications_to_params, migrations.RunPython.noop),
    ]
