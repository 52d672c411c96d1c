"""Outgoing webhooks: registering endpoints, writing events to the outbox, delivering them.

Delivery rules (one place):
- one sender per endpoint at a time (a lease on its row); each run starts with one delivery
  (a dead endpoint costs one timeout, never a batch's worth), then batches go out over up to
  CONNECTIONS parallel connections (outgoing.transport: a batch stops starting posts at the
  first one that got no answer, or after BATCH_SECONDS), at most one delivery per
  conversation in a batch, and a delivery waits while an earlier one of the same
  conversation to the same endpoint is still pending (order);
- a failed attempt is tried again after an exponential backoff with jitter, for a day, then
  given up; the endpoint itself pauses after a failure (one probe at a time while it fails),
  so a dead endpoint holds one worker for at most one timeout, never the others;
- an endpoint failing for a whole day is disabled and its organization's admins are told.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.cache import cache
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.exceptions import InvalidInput
from helpdesk.models import Membership, Organization, Role
from helpdesk.services import Notice, notifications_create_many
from outgoing import payloads, tasks
from outgoing.addresses import (
    CONNECT_SECONDS,
    EXCERPT_BYTES,
    TOTAL_SECONDS,
    EndpointNotAllowed,
    delivery_policy,
    endpoint_target,
)
from outgoing.models import Delivery, DeliveryState, EventType, OutgoingEvent, WebhookEndpoint
from outgoing.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, secret_new, signature_header
from outgoing.sql import rows_update
from outgoing.transport import Answer, EndpointClient, Post

logger = logging.getLogger(__name__)

RETRY_FOR = timedelta(days=1)
DISABLE_AFTER = timedelta(days=1)
LEASE_SECONDS = 60
# A sender stops after this long and hands over to a new task (other endpoints get a turn).
RUN_SECONDS = 20.0
# A batch goes out over as many connections at once; it starts no post after BATCH_SECONDS
# (so it lasts at most that and one timeout).
CONNECTIONS = 32
BATCH = 256
BATCH_SECONDS = 5.0
FIRST_RETRY_SECONDS = 10.0
MAX_RETRY_SECONDS = 3600.0
MAX_PAUSE_SECONDS = 300.0
DESCRIPTION_MAX = 200
URL_MAX = 500
KICK_SECONDS = 30
PAUSE_MARGIN_SECONDS = 0.25
NOTIFICATION_KIND = "webhook_endpoint_disabled"
DISABLED_FAILING = "failing"


class InvalidEventTypes(InvalidInput):
    code = "invalid_event_types"
    default_message = _("Choose at least one event among the known ones.")


# --------------------------------------------------------------------------- endpoints


def _events_clean(events: Iterable[Any]) -> list[str]:
    chosen = [str(event) for event in events]
    if not chosen or any(event not in EventType.values for event in chosen):
        raise InvalidEventTypes(details={"known": list(EventType.values)})
    return [event for event in EventType.values if event in chosen]


def _url_clean(url: str) -> str:
    url = url.strip()
    if not url or len(url) > URL_MAX:
        raise EndpointNotAllowed()
    endpoint_target(url)
    return url


@transaction.atomic
def endpoint_create(
    *, organization: Organization, acting_user: Any, url: str, events: Iterable[Any], description: str = ""
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        url=_url_clean(url),
        events=_events_clean(events),
        description=description.strip()[:DESCRIPTION_MAX],
        secret=secret_new(),
        created_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
    )
    _endpoints_changed(organization.pk)
    return endpoint


@transaction.atomic
def endpoint_update(
    *,
    organization: Organization,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: Iterable[Any] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    assert endpoint.organization_id == organization.pk
    if url is not None:
        endpoint.url = _url_clean(url)
    if events is not None:
        endpoint.events = _events_clean(events)
    if description is not None:
        endpoint.description = description.strip()[:DESCRIPTION_MAX]
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        endpoint.disabled_at = None if enabled else timezone.now()
        endpoint.disabled_reason = ""
        # Turned on again: its failures so far count no more.
        endpoint.failing_since, endpoint.consecutive_failures, endpoint.paused_until = None, 0, None
    endpoint.save()
    _endpoints_changed(organization.pk)
    if endpoint.enabled:
        transaction.on_commit(lambda: endpoints_kick([endpoint.pk]))
    return endpoint


@transaction.atomic
def endpoint_secret_rotate(*, organization: Organization, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret at once: deliveries from now on are signed with it."""
    assert endpoint.organization_id == organization.pk
    endpoint.secret = secret_new()
    endpoint.save(update_fields=["secret", "updated_at"])
    return endpoint


@transaction.atomic
def endpoint_delete(*, organization: Organization, endpoint: WebhookEndpoint) -> None:
    assert endpoint.organization_id == organization.pk
    endpoint.delete()
    _endpoints_changed(organization.pk)


@transaction.atomic
def delivery_send_again(*, organization: Organization, delivery: Delivery, now: datetime | None = None) -> Delivery:
    """The same event (same id, same body) to the same endpoint once more, now (after the
    conversation's earlier pending deliveries)."""
    assert delivery.organization_id == organization.pk
    now = now or timezone.now()
    again = Delivery.objects.create(
        organization=organization,
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        conversation_id=delivery.conversation_id,
        next_attempt_at=now,
        created_at=now,
    )
    transaction.on_commit(lambda: endpoints_kick([delivery.endpoint_id]))
    return again


# --------------------------------------------------------------------------- the outbox


# The organization's enabled endpoints, kept in the cache under a generation that every change
# of them replaces: every webhook POST asks (a query and its ORM cost over a millisecond, for
# endpoints that change a few times a year).
ENDPOINTS_CACHE_SECONDS = 300


def _generation_key(organization_id: int) -> str:
    return f"outgoing:endpoints-generation:{organization_id}"


def _endpoints_changed(organization_id: int) -> None:
    """A new generation now (this transaction's reads) and once committed (a reader that read
    the old rows meanwhile kept them under the old generation, which nobody asks again)."""

    def renew() -> None:
        try:
            cache.set(_generation_key(organization_id), secret_new()[:16], None)
        except Exception:  # the cache backend's own connection errors
            logger.warning("outgoing: the cache is unavailable, endpoints not renewed", exc_info=True)

    renew()
    transaction.on_commit(renew, robust=True)


def _enabled_endpoints(organization_id: int) -> list[tuple[int, list[str]]]:
    rows = WebhookEndpoint.objects.filter(organization_id=organization_id, enabled=True).values_list("pk", "events")
    return [(pk, list(events)) for pk, events in rows.order_by("pk")]


def endpoints_wanting(*, organization_id: int, type: str) -> list[int]:
    """The organization's enabled endpoints that want this event type (from the cache; one
    query when it has them not)."""
    try:
        generation = cache.get(_generation_key(organization_id))
        if generation is None:
            cache.add(_generation_key(organization_id), secret_new()[:16], None)
            generation = cache.get(_generation_key(organization_id))
        key = f"outgoing:endpoints:{organization_id}:{generation}"
        endpoints: list[tuple[int, list[str]]] | None = cache.get(key)
        if endpoints is None:
            endpoints = _enabled_endpoints(organization_id)
            cache.set(key, endpoints, ENDPOINTS_CACHE_SECONDS)
    except Exception:  # the cache backend's own connection errors: ask the database
        logger.warning("outgoing: the cache is unavailable, endpoints read from the database", exc_info=True)
        endpoints = _enabled_endpoints(organization_id)
    # A handful of endpoints per organization: their event lists are read here (a JSON
    # "contains" lookup is not one every database has).
    return [pk for pk, wanted in endpoints if type in wanted]


def events_record(
    *,
    organization_id: int,
    type: str,
    resource: str,
    subjects: Sequence[tuple[int, int | None]],
    endpoint_ids: Sequence[int] | None = None,
) -> int:
    """Write the events, and a delivery per endpoint that wants them, in the caller's
    transaction; the endpoints' senders are woken after commit. Returns the deliveries written."""
    if endpoint_ids is None:
        endpoint_ids = endpoints_wanting(organization_id=organization_id, type=type)
    endpoint_ids = list(endpoint_ids)
    if not endpoint_ids or not subjects:
        return 0
    now = timezone.now()
    events = OutgoingEvent.objects.bulk_create(
        [
            OutgoingEvent(
                organization_id=organization_id,
                type=type,
                resource=resource,
                resource_id=resource_id,
                conversation_id=conversation_id,
            )
            for resource_id, conversation_id in subjects
        ]
    )
    if any(event.pk is None for event in events):  # a database that does not return ids
        public_ids = [event.public_id for event in events]
        events = list(OutgoingEvent.objects.filter(public_id__in=public_ids).order_by("pk"))
    Delivery.objects.bulk_create(
        [
            Delivery(
                organization_id=organization_id,
                endpoint_id=endpoint_id,
                event_id=event.pk,
                conversation_id=event.conversation_id,
                next_attempt_at=now,
                created_at=now,
            )
            for event in events
            for endpoint_id in endpoint_ids
        ]
    )
    transaction.on_commit(lambda: endpoints_kick(endpoint_ids), robust=True)
    return len(events) * len(endpoint_ids)


def _kick_key(endpoint_id: int) -> str:
    return f"outgoing:kick:{endpoint_id}"


def endpoints_kick(endpoint_ids: Iterable[int], *, countdown: float | None = None) -> None:
    """Wake the endpoints' senders: one task queued per endpoint however many events commit
    while it waits (the sender clears the mark as it starts)."""
    for endpoint_id in endpoint_ids:
        if countdown is None and not cache.add(_kick_key(endpoint_id), 1, timeout=KICK_SECONDS):
            continue
        try:
            if countdown is None:
                tasks.deliver.delay(endpoint_id)
            else:
                tasks.deliver.apply_async((endpoint_id,), countdown=countdown)
        except Exception:
            # The broker is away: the sweep (every 15 s) wakes the endpoint later.
            cache.delete(_kick_key(endpoint_id))
            logger.warning("could not queue the deliveries of webhook endpoint %s", endpoint_id, exc_info=True)


# --------------------------------------------------------------------------- delivering


def retry_seconds(attempts: int) -> float:
    """After the n-th failed attempt: 10 s, 20 s, 40 s … up to an hour, ±25 % jitter."""
    base = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.75, 1.25)  # noqa: S311 (jitter, not a secret)


def pause_seconds(consecutive_failures: int) -> float:
    """How long a failing endpoint rests before the next probe: 1 s, 2 s, 4 s … 5 minutes, jittered."""
    return min(MAX_PAUSE_SECONDS, 2.0 ** min(consecutive_failures - 1, 12)) * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not a secret)


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery to try now: what the sender reads of its row."""

    pk: int
    event_id: int
    conversation_id: int | None
    attempts: int
    created_at: datetime


def _due(endpoint: WebhookEndpoint, *, now: datetime, limit: int) -> tuple[list[Due], list[int]]:
    """The endpoint's due deliveries, oldest first, each the first pending one of its
    conversation; and the events of all the candidates (the next batches' too).

    The candidates are the oldest due ones; within them a conversation's first is the first
    pending one unless an earlier delivery of it waits for a retry (not due): those are the
    only rows read besides the candidates (a backlog of thousands is not scanned per batch)."""
    candidates = [
        Due(*row)
        for row in Delivery.objects.filter(endpoint=endpoint, state=DeliveryState.PENDING, next_attempt_at__lte=now)
        .order_by("pk")
        .values_list("pk", "event_id", "conversation_id", "attempts", "created_at")[: limit * 4]
    ]
    conversation_ids = {d.conversation_id for d in candidates if d.conversation_id is not None}
    waiting = dict(
        Delivery.objects.filter(
            endpoint=endpoint,
            state=DeliveryState.PENDING,
            next_attempt_at__gt=now,
            conversation_id__in=conversation_ids,
        )
        .values("conversation_id")
        .annotate(first=Min("pk"))
        .values_list("conversation_id", "first")
        .order_by()
    )
    due: list[Due] = []
    started: set[int] = set()
    for delivery in candidates:
        conversation_id = delivery.conversation_id
        if conversation_id is not None:
            if conversation_id in started or waiting.get(conversation_id, delivery.pk) < delivery.pk:
                continue
            started.add(conversation_id)
        due.append(delivery)
        if len(due) == limit:
            break
    return due, [candidate.event_id for candidate in candidates]


_RECORDED = (
    "attempts",
    "last_attempt_at",
    "status_code",
    "response_ms",
    "response_excerpt",
    "error",
    "state",
    "finished_at",
    "next_attempt_at",
)


def _record(endpoint: WebhookEndpoint, results: list[tuple[Due, Answer]], *, now: datetime) -> bool:
    """Store the attempts; returns whether the endpoint failed (it pauses)."""
    failed = False
    rows = []
    for delivery, answer in results:
        attempts = delivery.attempts + 1
        state, next_attempt_at = DeliveryState.SUCCEEDED, now
        finished_at: datetime | None = now
        if not answer.ok:
            failed = True
            if now - delivery.created_at >= RETRY_FOR:
                state = DeliveryState.FAILED
            else:
                state, finished_at = DeliveryState.PENDING, None
                next_attempt_at = now + timedelta(seconds=retry_seconds(attempts))
        rows.append(
            (
                delivery.pk,
                attempts,
                now,
                answer.status,
                answer.ms,
                answer.excerpt,
                answer.error,
                state,
                finished_at,
                next_attempt_at,
            )
        )
    rows_update(Delivery, _RECORDED, rows)
    if failed and not any(answer.ok for _delivery, answer in results):
        endpoint.consecutive_failures += 1
        endpoint.failing_since = endpoint.failing_since or now
        endpoint.paused_until = now + timedelta(seconds=pause_seconds(endpoint.consecutive_failures))
    elif endpoint.consecutive_failures or endpoint.failing_since or endpoint.paused_until:
        endpoint.consecutive_failures, endpoint.failing_since, endpoint.paused_until = 0, None, None
    else:
        return failed  # it was well and still is: nothing to write
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=endpoint.consecutive_failures,
        failing_since=endpoint.failing_since,
        paused_until=endpoint.paused_until,
    )
    if endpoint.failing_since is not None and now - endpoint.failing_since >= DISABLE_AFTER:
        endpoints_disable_failing(now=now, endpoint_ids=[endpoint.pk])
        return True
    return failed


def _refused(deliveries: list[Due], reason: str) -> list[tuple[Due, Answer]]:
    return [(delivery, Answer(None, 0, "", f"endpoint_not_allowed: {reason}"[:200])) for delivery in deliveries]


def _posts(endpoint: WebhookEndpoint, deliveries: list[Due]) -> list[Post]:
    """The signed POST of each delivery (its event's kept body)."""
    events = {
        pk: (public_id, body.encode())
        for pk, public_id, body in OutgoingEvent.objects.filter(pk__in=[d.event_id for d in deliveries]).values_list(
            "pk", "public_id", "body"
        )
    }
    timestamp = int(time.time())
    posts = []
    for delivery in deliveries:
        public_id, body = events[delivery.event_id]
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(secret=endpoint.secret, timestamp=timestamp, body=body),
            EVENT_ID_HEADER: str(public_id),
        }
        posts.append(Post(body, headers))
    return posts


def _client(endpoint_url: str, client: EndpointClient | None) -> EndpointClient:
    """A client for the endpoint's address as checked now (the one it had when nothing changed).
    Raises EndpointNotAllowed."""
    target = endpoint_target(endpoint_url)
    if client is not None and client.target == target:
        return client
    if client is not None:
        client.close()
    return EndpointClient(
        target,
        connections=CONNECTIONS,
        connect_seconds=CONNECT_SECONDS,
        total_seconds=TOTAL_SECONDS,
        excerpt_bytes=EXCERPT_BYTES,
        user_agent=delivery_policy().user_agent,
        batch_seconds=BATCH_SECONDS,
    )


@dataclass(frozen=True, slots=True)
class NextRun:
    """When an endpoint's sender should run again: in `seconds` (None: nothing waits for it).
    `paused`: it rests after a failure, and events committed meanwhile wait for it too.
    `skipped`: the run did nothing, as another sender holds the endpoint (it looks for new
    events when done) or it rests (the end of its pause wakes it)."""

    seconds: float | None
    paused: bool = False
    skipped: bool = False


def endpoint_deliver(
    *,
    endpoint_id: int,
    now: Callable[[], datetime] = timezone.now,
    run_seconds: float = RUN_SECONDS,
) -> NextRun:
    """Send the endpoint's due deliveries until none is due, it fails or the run's time is up.
    Safe to run twice at once: the second finds the lease taken and does nothing; nor does a
    run while the endpoint rests (a new event's wake-up costs one query, and the mark it
    leaves keeps the next ones from queueing runs)."""
    started = now()
    taken = (
        WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=started))
        .filter(Q(paused_until__isnull=True) | Q(paused_until__lte=started))
        .update(lease_until=started + timedelta(seconds=LEASE_SECONDS))
    )
    if not taken:
        return NextRun(None, skipped=True)
    cache.delete(_kick_key(endpoint_id))
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    client: EndpointClient | None = None
    try:
        probe = True
        while True:
            moment = now()
            if (moment - started).total_seconds() > run_seconds:
                return NextRun(0.0)
            if not probe:
                # An admin's change (URL, secret, turned off) applies from the next batch.
                endpoint.refresh_from_db(fields=["url", "secret", "enabled"])
                if not endpoint.enabled:
                    return NextRun(None)
            if endpoint.paused_until is not None and endpoint.paused_until > moment:
                return NextRun((endpoint.paused_until - moment).total_seconds(), paused=True)
            # First one delivery alone (a failing or dead endpoint costs one timeout),
            # then the backlog in parallel batches once it answers.
            deliveries, upcoming = _due(endpoint, now=moment, limit=1 if probe else BATCH)
            probe = False
            if not deliveries:
                return NextRun(_next_due_in(endpoint, now=moment))
            # The next batches' bodies too: a resource that several of them carry is read once.
            payloads.bodies_write(upcoming)
            try:
                client = _client(endpoint.url, client)
            except EndpointNotAllowed as refusal:
                results = _refused(deliveries, str((refusal.details or {}).get("reason", "")))
            else:
                answers = client.post_all(_posts(endpoint, deliveries))
                # Those not started stay due, untouched.
                results = [(d, answer) for d, answer in zip(deliveries, answers, strict=True) if answer is not None]
            if _record(endpoint, results, now=now()):
                endpoint.refresh_from_db()
                if not endpoint.enabled:
                    return NextRun(None)
    finally:
        try:
            if client is not None:
                client.close()
        finally:
            # Whatever happened, the next sender need not wait for the lease to run out.
            WebhookEndpoint.objects.filter(pk=endpoint_id).update(lease_until=None)


def _next_due_in(endpoint: WebhookEndpoint, *, now: datetime) -> float | None:
    next_at = (
        Delivery.objects.filter(endpoint=endpoint, state=DeliveryState.PENDING)
        .aggregate(at=Min("next_attempt_at"))
        .get("at")
    )
    if next_at is None:
        return None
    return max(0.0, (next_at - now).total_seconds())


def endpoint_deliver_and_follow(*, endpoint_id: int) -> None:
    """The task's body: deliver, then queue the next run when more is due within the sweep's
    period (later ones are the sweep's), or when events were committed while it ran."""
    run = endpoint_deliver(endpoint_id=endpoint_id)
    if run.skipped:
        return
    again = run.seconds
    # Events committed while it ran are due now, unless it rests: then they wait with the
    # others, and the mark stays (the wake-ups of the next events queue nothing).
    if run.paused:
        # A run a moment early would find it still resting, and do nothing.
        again = (again or 0.0) + PAUSE_MARGIN_SECONDS
    elif cache.get(_kick_key(endpoint_id)) is not None:
        cache.delete(_kick_key(endpoint_id))
        again = 0.0
    if again is not None and again < 15:
        endpoints_kick([endpoint_id], countdown=max(0.0, again))


# --------------------------------------------------------------------------- the sweep


def endpoints_disable_failing(*, now: datetime | None = None, endpoint_ids: Sequence[int] | None = None) -> int:
    """Disable endpoints that failed for a whole day; their organization's admins are told once."""
    now = now or timezone.now()
    rows = WebhookEndpoint.objects.filter(
        enabled=True, failing_since__isnull=False, failing_since__lte=now - DISABLE_AFTER
    )
    if endpoint_ids is not None:
        rows = rows.filter(pk__in=endpoint_ids)
    disabled = 0
    for endpoint in rows.select_related("organization"):
        with transaction.atomic():
            changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
                enabled=False, disabled_at=now, disabled_reason=DISABLED_FAILING
            )
            if not changed:
                continue
            _endpoints_changed(endpoint.organization_id)
            disabled += 1
            _tell_admins(endpoint, now=now)
    return disabled


def _tell_admins(endpoint: WebhookEndpoint, *, now: datetime) -> None:
    organization = endpoint.organization
    admin_ids = list(
        Membership.objects.filter(organization=organization, role=Role.ADMIN, is_active=True).values_list(
            "user_id", flat=True
        )
    )
    notifications_create_many(
        organization=organization,
        kind=NOTIFICATION_KIND,
        notices=[
            Notice(
                user_ids=admin_ids,
                dedupe_key=f"webhook-disabled:{endpoint.pk}:{now.isoformat()}",
                # The host only: a receiver's path or query often carries a token of its own.
                params={
                    "endpoint_id": endpoint.pk,
                    "url": urlsplit(endpoint.url).hostname or "",
                    "since": (endpoint.failing_since or now).isoformat(),
                },
                url=f"/o/{organization.slug}/settings/webhooks/{endpoint.pk}/",
            )
        ],
    )


def outgoing_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Every 15 s: give up deliveries pending for more than a day, disable endpoints failing
    for a day, and wake the senders of endpoints with deliveries due (retries)."""
    now = now or timezone.now()
    given_up = Delivery.objects.filter(state=DeliveryState.PENDING, created_at__lte=now - RETRY_FOR).update(
        state=DeliveryState.FAILED, finished_at=now
    )
    disabled = endpoints_disable_failing(now=now)
    due = list(
        Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now, endpoint__enabled=True)
        .filter(Q(endpoint__paused_until__isnull=True) | Q(endpoint__paused_until__lte=now))
        .values_list("endpoint_id", flat=True)
        .distinct()
        .order_by()
    )
    endpoints_kick(due)
    return {"given_up": given_up, "disabled": disabled, "woken": len(due)}
