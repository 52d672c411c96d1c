"""Deliveries to a real local receiver: signed (checked here with the standard library's hmac,
not the product's code), retried with backoff keeping the event's id, in order per
conversation, "send again", and an endpoint failing for a day disabled with its admins told."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk import signals
from helpdesk.models import Notification
from messenger.models import Conversation
from outgoing import payloads, services
from outgoing.models import Delivery, DeliveryState, OutgoingEvent, WebhookEndpoint
from outgoing.transport import Answer, EndpointClient
from tests import factories
from tests.conftest import Tenant
from tests.outgoing.conftest import Receiver

pytestmark = pytest.mark.django_db


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """What a receiver writes: Stripe-style t=…,v1=… over "t.body"."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(int(timezone.now().timestamp()) - int(parts["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected, parts["v1"])


def _endpoint(tenant: Tenant, receiver: Receiver, events: list[str] | None = None) -> WebhookEndpoint:
    return services.endpoint_create(
        organization=tenant.organization,
        acting_user=tenant.admin.user,
        url=receiver.url,
        events=events or [signals.CONVERSATION_CLOSED, signals.CONVERSATION_ASSIGNED],
    )


def _conversation(tenant: Tenant) -> Conversation:
    channel = factories.make_channel(tenant.organization, tenant.department)
    return factories.make_conversation(factories.make_page(channel))


def _emit(conversation: Conversation, type: str = signals.CONVERSATION_CLOSED) -> OutgoingEvent:
    signals.domain_events_send(
        organization_id=conversation.organization_id,
        type=type,
        resource=signals.CONVERSATION,
        subjects=[(conversation.pk, conversation.pk)],
    )
    return OutgoingEvent.objects.latest("pk")


def _deliver(endpoint: WebhookEndpoint, at: datetime | None = None) -> None:
    services.endpoint_deliver(endpoint_id=endpoint.pk, now=(lambda: at) if at else timezone.now)


def test_a_delivery_is_signed_so_that_an_independent_hmac_verifies_it(
    tenant_a: Tenant, receiver: Receiver, dns: Any
) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    conversation = _conversation(tenant_a)
    event = _emit(conversation)
    _deliver(endpoint)

    [request] = receiver.requests
    assert verify(endpoint.secret, request.headers["x-helpdesk-signature"], request.body)
    assert not verify("whsec_someone-else", request.headers["x-helpdesk-signature"], request.body)
    body = request.event
    assert body["id"] == request.headers["x-helpdesk-event-id"] == str(event.public_id)
    assert body["type"] == "conversation.closed"
    assert body["created_at"]
    # The resource as the API shows it.
    assert body["data"]["id"] == conversation.pk
    assert body["data"]["contact"]["id"] == conversation.contact_id
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.status_code) == (DeliveryState.SUCCEEDED, 1, 200)
    assert delivery.response_excerpt == '{"received": true}'


def test_a_rotated_secret_signs_the_next_deliveries(tenant_a: Tenant, receiver: Receiver, dns: Any) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    old = endpoint.secret
    services.endpoint_secret_rotate(organization=tenant_a.organization, endpoint=endpoint)
    _emit(_conversation(tenant_a))
    _deliver(endpoint)
    [request] = receiver.requests
    assert endpoint.secret != old
    assert verify(endpoint.secret, request.headers["x-helpdesk-signature"], request.body)
    assert not verify(old, request.headers["x-helpdesk-signature"], request.body)


def test_events_nobody_subscribed_to_write_nothing(tenant_a: Tenant, receiver: Receiver, dns: Any) -> None:
    _endpoint(tenant_a, receiver, events=[signals.TICKET_CREATED])
    with pytest.raises(OutgoingEvent.DoesNotExist):
        _emit(_conversation(tenant_a))
    assert not Delivery.objects.exists()


def test_a_failed_delivery_is_retried_after_a_backoff_with_the_same_event_id(
    tenant_a: Tenant, receiver: Receiver, dns: Any
) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    event = _emit(_conversation(tenant_a))
    receiver.failures[str(event.public_id)] = 2
    start = timezone.now()
    _deliver(endpoint, start)
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.status_code) == (DeliveryState.PENDING, 1, 500)
    first_wait = (delivery.next_attempt_at - start).total_seconds()
    assert 7.5 <= first_wait <= 12.5
    # Not due yet: nothing is sent.
    _deliver(endpoint, start + timedelta(seconds=5))
    assert len(receiver.requests) == 1

    second = delivery.next_attempt_at + timedelta(seconds=1)
    _deliver(endpoint, second)
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    second_wait = (delivery.next_attempt_at - second).total_seconds()
    assert 15 <= second_wait <= 25  # doubled (±25 % jitter)

    _deliver(endpoint, delivery.next_attempt_at + timedelta(seconds=1))
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.SUCCEEDED, 3)
    ids = {request.headers["x-helpdesk-event-id"] for request in receiver.requests}
    assert ids == {str(event.public_id)} and len(receiver.requests) == 3
    assert len({request.body for request in receiver.requests}) == 1
    endpoint.refresh_from_db()
    assert (endpoint.failing_since, endpoint.consecutive_failures) == (None, 0)


def test_a_later_event_of_a_conversation_waits_for_the_earlier_one(
    tenant_a: Tenant, receiver: Receiver, dns: Any
) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    first_conversation, other_conversation = _conversation(tenant_a), _conversation(tenant_a)
    other = _emit(other_conversation, signals.CONVERSATION_CLOSED)
    first = _emit(first_conversation, signals.CONVERSATION_ASSIGNED)
    second = _emit(first_conversation, signals.CONVERSATION_CLOSED)
    receiver.failures[str(first.public_id)] = 1
    start = timezone.now()

    _deliver(endpoint, start)
    sent = [request.headers["x-helpdesk-event-id"] for request in receiver.requests]
    # The other conversation's event went; the first one's second event waits for the first.
    assert sent == [str(other.public_id), str(first.public_id)]
    assert Delivery.objects.get(event=second).attempts == 0
    _deliver(endpoint, start + timedelta(seconds=2))  # the endpoint's pause is over, not the event's backoff
    assert len(receiver.requests) == 2

    _deliver(endpoint, start + timedelta(minutes=1))
    sent = [request.headers["x-helpdesk-event-id"] for request in receiver.requests]
    assert sent[2:] == [str(first.public_id), str(second.public_id)]
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.SUCCEEDED}


def test_an_endpoint_failing_for_a_day_is_disabled_and_its_admins_are_told(
    tenant_a: Tenant, receiver: Receiver, dns: Any
) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    receiver.failures["*"] = 1000
    _emit(_conversation(tenant_a))
    start = timezone.now()
    _deliver(endpoint, start)
    _deliver(endpoint, start + timedelta(hours=12))
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since == start

    later = start + timedelta(days=1, minutes=1)
    _deliver(endpoint, later)
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "failing")
    assert Delivery.objects.get().state == DeliveryState.FAILED  # given up after a day
    notice = Notification.objects.get(kind="webhook_endpoint_disabled")
    assert notice.user_id == tenant_a.admin.user_id
    assert not Notification.objects.filter(user=tenant_a.agent.user).exists()
    # Disabled: nothing more is sent, even when due.
    count = len(receiver.requests)
    _emit(_conversation(tenant_a))
    _deliver(endpoint, later + timedelta(minutes=5))
    assert len(receiver.requests) == count


def test_the_sweep_disables_an_endpoint_failing_for_a_day(tenant_a: Tenant, receiver: Receiver, dns: Any) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    start = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=start, consecutive_failures=3)
    assert services.outgoing_sweep(now=start + timedelta(hours=23))["disabled"] == 0
    assert services.outgoing_sweep(now=start + timedelta(days=1))["disabled"] == 1
    assert services.outgoing_sweep(now=start + timedelta(days=1, minutes=1))["disabled"] == 0
    assert Notification.objects.filter(kind="webhook_endpoint_disabled").count() == 1


def test_send_again_posts_the_same_event_with_the_same_id_and_body(
    tenant_a: Tenant, receiver: Receiver, dns: Any
) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    _emit(_conversation(tenant_a))
    _deliver(endpoint)
    delivery = Delivery.objects.get()
    again = services.delivery_send_again(organization=tenant_a.organization, delivery=delivery)
    _deliver(endpoint)
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["x-helpdesk-event-id"] == second.headers["x-helpdesk-event-id"]
    again.refresh_from_db()
    assert (again.state, again.event_id) == (DeliveryState.SUCCEEDED, delivery.event_id)


def test_a_redirect_is_not_followed(tenant_a: Tenant, receiver: Receiver, dns: Any) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    receiver.status = 302
    receiver.extra_headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
    _emit(_conversation(tenant_a))
    _deliver(endpoint)
    assert len(receiver.requests) == 1
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.status_code) == (DeliveryState.PENDING, 302)


def test_a_name_that_now_leads_to_a_private_address_is_not_delivered_to(
    tenant_a: Tenant, receiver: Receiver, dns: Any
) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    dns.answer = ("10.0.0.5",)
    _emit(_conversation(tenant_a))
    _deliver(endpoint)
    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.PENDING and delivery.error.startswith("endpoint_not_allowed")


def test_the_body_is_written_once_and_kept(tenant_a: Tenant, receiver: Receiver, dns: Any) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    conversation = _conversation(tenant_a)
    event = _emit(conversation)
    _deliver(endpoint)
    event.refresh_from_db()
    assert json.loads(event.body)["data"]["id"] == conversation.pk


def test_the_bodies_of_a_batch_cost_the_same_queries_however_many_events(
    tenant_a: Tenant, receiver: Receiver, dns: Any, django_assert_num_queries: Any
) -> None:
    """A conversation's body reads its SLA's kept times with it (a query per event would cap
    the sender at a few hundred deliveries a second)."""
    _endpoint(tenant_a, receiver)

    def emitted(count: int) -> list[int]:
        return [_emit(_conversation(tenant_a)).pk for _ in range(count)]

    one, many = emitted(1), emitted(6)
    with CaptureQueriesContext(connection) as for_one:
        payloads.bodies_write(one)
    with django_assert_num_queries(len(for_one)):
        payloads.bodies_write(many)
    bodies = [json.loads(body) for body in OutgoingEvent.objects.filter(pk__in=many).values_list("body", flat=True)]
    assert sorted(body["data"]["id"] for body in bodies) == sorted(
        OutgoingEvent.objects.filter(pk__in=many).values_list("resource_id", flat=True)
    )
    assert all("sla" in body["data"] for body in bodies)


def _after_each_batch(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """Runs ``change(batch number)`` after each batch a running sender records (an admin at work
    meanwhile)."""
    recorded = services._record
    batches = iter(range(1, 1000))

    def record(*args: Any, **kwargs: Any) -> bool:
        failed = recorded(*args, **kwargs)
        change(next(batches))
        return failed

    monkeypatch.setattr(services, "_record", record)


def test_a_running_sender_signs_the_next_batch_with_a_secret_rotated_meanwhile(
    tenant_a: Tenant, receiver: Receiver, dns: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    old = endpoint.secret
    for _ in range(3):
        _emit(_conversation(tenant_a))

    def rotate(batch: int) -> None:
        if batch == 1:
            services.endpoint_secret_rotate(organization=tenant_a.organization, endpoint=endpoint)

    _after_each_batch(monkeypatch, rotate)
    _deliver(endpoint)

    # The first delivery goes alone (a probe), the other two in the next batch.
    first, *rest = receiver.requests
    assert verify(old, first.headers["x-helpdesk-signature"], first.body)
    assert len(rest) == 2
    assert all(verify(endpoint.secret, r.headers["x-helpdesk-signature"], r.body) for r in rest)
    assert not any(verify(old, r.headers["x-helpdesk-signature"], r.body) for r in rest)


def test_a_running_sender_stops_at_the_next_batch_when_its_endpoint_is_turned_off(
    tenant_a: Tenant, receiver: Receiver, dns: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = _endpoint(tenant_a, receiver)
    for _ in range(3):
        _emit(_conversation(tenant_a))

    def turn_off(batch: int) -> None:
        if batch == 1:
            services.endpoint_update(organization=tenant_a.organization, endpoint=endpoint, enabled=False)

    _after_each_batch(monkeypatch, turn_off)
    _deliver(endpoint)

    assert len(receiver.requests) == 1
    assert Delivery.objects.filter(state=DeliveryState.PENDING).count() == 2


def test_a_running_sender_posts_the_next_batch_to_a_url_changed_meanwhile(
    tenant_a: Tenant, receiver: Receiver, dns: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same host, another path: the kept connections go on, to the new path."""
    endpoint = _endpoint(tenant_a, receiver)
    for _ in range(3):
        _emit(_conversation(tenant_a))

    def move(batch: int) -> None:
        if batch == 1:
            services.endpoint_update(organization=tenant_a.organization, endpoint=endpoint, url=receiver.url + "/v2")

    _after_each_batch(monkeypatch, move)
    _deliver(endpoint)

    assert [request.path for request in receiver.requests] == ["/hook", "/hook/v2", "/hook/v2"]


def test_posts_a_batch_did_not_start_stay_due_untouched(
    tenant_a: Tenant, receiver: Receiver, dns: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch stopped after a post got no answer: that one waits for its retry, the others
    were not tried and are due as they were."""
    endpoint = _endpoint(tenant_a, receiver)
    for _ in range(3):
        _emit(_conversation(tenant_a))
    start = timezone.now()

    def no_answer(self: EndpointClient, posts: list[Any]) -> list[Answer | None]:
        return [Answer(None, 3000, "", "ConnectionTimeoutError"), *([None] * (len(posts) - 1))]

    monkeypatch.setattr(EndpointClient, "post_all", no_answer)
    _deliver(endpoint, start)

    tried, *untouched = Delivery.objects.order_by("pk")
    assert (tried.state, tried.attempts, tried.error) == (DeliveryState.PENDING, 1, "ConnectionTimeoutError")
    assert tried.next_attempt_at > start
    assert [(d.state, d.attempts, d.last_attempt_at) for d in untouched] == [(DeliveryState.PENDING, 0, None)] * 2
    assert all(d.next_attempt_at <= start for d in untouched)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1 and endpoint.paused_until is not None


def test_a_resting_endpoint_is_not_taken_and_the_wake_up_mark_stays(
    tenant_a: Tenant, receiver: Receiver, dns: Any
) -> None:
    """A failed endpoint rests; a new event's wake-up meanwhile costs one query and queues
    nothing more (its mark stays until the rest is over)."""
    endpoint = _endpoint(tenant_a, receiver)
    receiver.failures["*"] = 1
    _emit(_conversation(tenant_a))
    start = timezone.now()
    _deliver(endpoint, start)
    endpoint.refresh_from_db()
    assert endpoint.paused_until is not None and len(receiver.requests) == 1

    _emit(_conversation(tenant_a))
    cache.set(services._kick_key(endpoint.pk), 1)
    run = services.endpoint_deliver(endpoint_id=endpoint.pk, now=lambda: endpoint.paused_until - timedelta(seconds=0.1))
    assert run == services.NextRun(None, skipped=True)
    assert len(receiver.requests) == 1
    assert cache.get(services._kick_key(endpoint.pk)) == 1
    endpoint.refresh_from_db()
    assert endpoint.lease_until is None

    run = services.endpoint_deliver(endpoint_id=endpoint.pk, now=lambda: start + timedelta(minutes=1))
    assert run == services.NextRun(None)
    assert len(receiver.requests) == 3  # the first event again (its retry is due), and the new one


def test_a_run_that_ends_resting_is_followed_after_the_rest_not_at_once(
    tenant_a: Tenant, receiver: Receiver, dns: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events committed while it ran (the mark) wait for the end of the rest."""
    endpoint = _endpoint(tenant_a, receiver)
    receiver.failures["*"] = 1
    _emit(_conversation(tenant_a))
    _after_each_batch(monkeypatch, lambda batch: cache.set(services._kick_key(endpoint.pk), 1))
    kicks: list[tuple[list[int], float | None]] = []
    monkeypatch.setattr(services, "endpoints_kick", lambda ids, countdown=None: kicks.append((list(ids), countdown)))

    services.endpoint_deliver_and_follow(endpoint_id=endpoint.pk)

    endpoint.refresh_from_db()
    assert endpoint.paused_until is not None
    ((ids, countdown),) = kicks
    assert ids == [endpoint.pk]
    assert countdown is not None and countdown >= services.PAUSE_MARGIN_SECONDS
    assert cache.get(services._kick_key(endpoint.pk)) == 1
