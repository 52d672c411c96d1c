"""`Idempotency-Key` for the API's POSTs: a retried request creates nothing twice.

The organization-scoped API base (helpdesk.api) calls `idempotency_claim` once the caller and
the organization are known, and `idempotency_complete` (or `idempotency_release`) with the
answer, so that every POST under /api/v1/ takes the header without a line in its view.

- A key belongs to one caller (the API token, or the user of a session) in one organization:
  another token's equal key is another key.
- The first request with a key claims it: a row in the database (unique per organization,
  caller and key; the database rather than the cache, which may be absent, and which is not
  shared the way a unique constraint is). Its answer is stored when it is final: 2xx and 4xx,
  except those that say "try again" (408, 425, 429). A 5xx, or a crash, releases the key so that
  the retry runs the request again.
- Sent again with the same method, path and body: the stored status and body, with
  `Idempotent-Replayed: true`. With another body: 422 `idempotency_key_reused`. While the first
  is still being answered: 409 `idempotency_key_in_progress` (a claim older than
  IDEMPOTENCY_LOCK_SECONDS is taken to be a crashed request and taken over).
- Keys are kept IDEMPOTENCY_KEY_RETENTION_HOURS (24): an older one is a new key, and a daily
  beat job (`helpdesk.idempotency.prune`) deletes them.
- A kept answer that quotes a customer whose data is erased (privacy.contact_data) is deleted
  then (`idempotency_replies_erase`); its key stays, so that a retry creates nothing twice, and
  is answered 410 `idempotency_reply_erased`.
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_left
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from helpdesk.exceptions import (
    IdempotencyKeyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    IdempotencyReplyErased,
)
from helpdesk.models import ApiToken, IdempotencyKey, Organization

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
# 4xx answers that ask the client to try again: not stored, the retry runs the request again.
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Claim:
    """A key this request holds until it answers."""

    key_id: int


class Replay(Exception):
    """The stored answer of a key: the request is not run again."""

    def __init__(self, response: HttpResponse) -> None:
        self.response = response
        super().__init__("idempotent replay")


def caller_scope(*, user: Any, auth: Any) -> str:
    """Whose keys these are: the API token's, or the session user's."""
    if isinstance(auth, ApiToken):
        return f"token:{auth.pk}"
    return f"user:{user.pk}"


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _replay_response(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        bytes(row.response_body),
        status=row.response_status or 200,
        content_type=row.response_content_type or "application/json",
    )
    response[REPLAYED_HEADER] = "true"
    return response


def idempotency_claim(
    *, organization: Organization, scope: str, key: str, method: str, path: str, body: bytes
) -> Claim:
    """Claim `key` for this request, or raise: `Replay` with the stored answer,
    IdempotencyKeyReused, IdempotencyKeyInProgress, IdempotencyKeyInvalid, IdempotencyReplyErased."""
    if not key or len(key) > KEY_MAX_LENGTH:
        raise IdempotencyKeyInvalid
    fingerprint = request_fingerprint(method=method, path=path, body=body)
    now = timezone.now()
    expired_before = now - timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    abandoned_before = now - timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    organization=organization, scope=scope, key=key, fingerprint=fingerprint, created_at=now
                )
            return Claim(key_id=row.pk)
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(organization=organization, scope=scope, key=key).first()
        if existing is None:
            continue  # released between the insert and the read: claim it again
        if existing.created_at < expired_before:
            IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused
        if existing.completed_at is not None:
            if existing.response_status is None:
                raise IdempotencyReplyErased
            raise Replay(_replay_response(existing))
        if existing.created_at < abandoned_before:
            # A request that never answered (its process died): the retry takes it over.
            taken = IdempotencyKey.objects.filter(
                pk=existing.pk, completed_at__isnull=True, created_at=existing.created_at
            ).update(created_at=now)
            if taken:
                return Claim(key_id=existing.pk)
        raise IdempotencyKeyInProgress
    raise IdempotencyKeyInProgress


def response_is_final(status: int) -> bool:
    return 200 <= status < 300 or (400 <= status < 500 and status not in _RETRYABLE_CLIENT_ERRORS)


def idempotency_complete(*, claim: Claim, response: HttpResponse) -> None:
    """Store the answer of a final response; release the key otherwise. Only JSON answers
    are stored: a file (a contact's export, an attachment) is read-only work whose retry may
    run again, and its bytes are no copy of a customer's data to keep for a day."""
    if not response_is_final(response.status_code) or not _storable(response):
        idempotency_release(claim=claim)
        return
    IdempotencyKey.objects.filter(pk=claim.key_id).update(
        completed_at=timezone.now(),
        response_status=response.status_code,
        response_content_type=str(response.get("Content-Type", "application/json"))[:100],
        response_body=bytes(response.content),
    )


def _storable(response: HttpResponse) -> bool:
    content_type = str(response.get("Content-Type", "application/json")).split(";")[0].strip()
    return not getattr(response, "streaming", False) and content_type in (
        "application/json",
        "application/problem+json",
    )


def idempotency_release(*, claim: Claim) -> None:
    """Forget the claim of a request that did not reach a final answer: a retry runs again."""
    IdempotencyKey.objects.filter(pk=claim.key_id, completed_at__isnull=True).delete()


def idempotency_keys_prune(*, batch_size: int = 5000) -> int:
    """Delete the keys older than IDEMPOTENCY_KEY_RETENTION_HOURS; the number deleted."""
    expired_before = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    deleted = 0
    while True:
        ids = list(
            IdempotencyKey.objects.filter(created_at__lt=expired_before).values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += IdempotencyKey.objects.filter(pk__in=ids).delete()[0]


# A kept answer's string that is this long or longer is taken for a quote of a text it begins
# (a conversation's preview is the start of its last message).
_QUOTE_MIN_LENGTH = 4
_ERASE_BATCH = 500


@dataclass(frozen=True)
class Mentions:
    """What in a kept answer tells of one person.

    `needles`: text of theirs wherever it appears, in any case (their page-scoped id, their
    name); `texts`: what was written by or to them, found as a whole string of the answer or
    as its start (a preview); `ids`: the records about them by kind ("contact",
    "conversation", "ticket", "message"), found as `<kind>_id`, `<kind>_ids` or
    `<kind>: {"id": …}`, as the API writes them."""

    needles: Collection[str] = ()
    texts: Collection[str] = ()
    ids: Mapping[str, Collection[int]] = field(default_factory=dict)


class _MentionFinder:
    def __init__(self, mentions: Mentions) -> None:
        needles = sorted({needle.strip().casefold() for needle in mentions.needles if len(needle.strip()) >= 2})
        # Words written in Latin letters (a family name "Li", a psid) as whole words only: not
        # "deLIvered"; a name in Japanese has no spaces around it to look for.
        patterns = [
            rf"(?<!\w){re.escape(needle)}(?!\w)" if needle.isascii() else re.escape(needle) for needle in needles
        ]
        self.needle = re.compile("|".join(patterns)) if patterns else None
        self.texts = sorted({text for text in mentions.texts if text.strip()})
        self.text_set = set(self.texts)
        self.ids = {kind: set(values) for kind, values in mentions.ids.items() if values}

    def in_body(self, body: bytes) -> bool:
        text = body.decode("utf-8", errors="replace")
        try:
            document = json.loads(text)
        except ValueError:
            return self._in_string(text)
        return any(self._in_string(value) for value in self._strings(document)) or self._refers(document)

    def _in_string(self, value: str) -> bool:
        if self.needle is not None and self.needle.search(value.casefold()):
            return True
        if value in self.text_set:
            return True
        if len(value.strip()) >= _QUOTE_MIN_LENGTH:
            at = bisect_left(self.texts, value)
            return at < len(self.texts) and self.texts[at].startswith(value)
        return False

    @staticmethod
    def _strings(document: Any) -> Iterator[str]:
        stack = [document]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                yield item
            elif isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)

    def _refers(self, document: Any) -> bool:
        stack = [document]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                for key, value in item.items():
                    if self._names_a_record(str(key), value):
                        return True
                    stack.append(value)
        return False

    def _names_a_record(self, key: str, value: Any) -> bool:
        for kind, ids in self.ids.items():
            if key == f"{kind}_id" and _an_id(value) in ids:
                return True
            if key == f"{kind}_ids" and isinstance(value, list) and any(_an_id(item) in ids for item in value):
                return True
            if key == kind and (_an_id(value) in ids or (isinstance(value, dict) and _an_id(value.get("id")) in ids)):
                return True
        return False


def _an_id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def idempotency_replies_erase(*, organization: Organization, mentions: Mentions) -> int:
    """Delete the kept answers of the organization that tell of the person (`mentions`); their
    keys stay, answered 410 `idempotency_reply_erased`, so that a retry does nothing twice.
    Every kept answer is read (they live a day); the number deleted."""
    finder = _MentionFinder(mentions)
    kept = (
        IdempotencyKey.objects.filter(organization=organization, response_status__isnull=False)
        .exclude(completed_at__isnull=True)
        .values_list("pk", "response_body")
    )
    quoting = [pk for pk, body in kept.iterator(chunk_size=_ERASE_BATCH) if finder.in_body(bytes(body))]
    for start in range(0, len(quoting), _ERASE_BATCH):
        IdempotencyKey.objects.filter(pk__in=quoting[start : start + _ERASE_BATCH]).update(
            response_status=None, response_content_type="", response_body=b""
        )
    return len(quoting)
