# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""The events of replies, SLA breaches and pages, written where the change is made: each once,
with the resource as the REST API shows it, to the endpoints of its own organization that want
it, and nothing when the change is rolled back.

- `message.sent`: an agent's reply the sending task delivered through the Graph API sandbox, or
  one whose send timed out and whose echo proved it sent; `message.failed`: the Send API
  refusing it (error 551, error 190), or the recovery sweep giving up on a send nobody knows
  the outcome of;
- `sla.breached`: the minute's sweep marking a conversation's or a ticket's breach;
- `page.needs_reauthorization`: error 190 on a send, the expiry sweep's one UPDATE over many
  pages, a refused token reported again, a data deletion (pages flagged already are not
  announced again).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from helpdesk import signals
from messenger import client as messenger_client
from messenger.models import (
    Conversation,
    ConversationSla,
    FacebookPage,
    Message,
    MessageStatus,
    PageStatus,
    ReauthorizationReason,
)
from messenger.pages import sweeps
from messenger.pages.authorization import (
    page_authorization_mark_reauthorization_required,
    pages_authorization_forget_person,
)
from messenger.sandbox import customers, people, send_failures, webhooks
from messenger.sandbox import tasks as sandbox_tasks
from messenger.services.sending import delivery, recovery, replies
from messenger.services.sla import conversations_sla_sweep
from messenger.tasks import sending as sending_tasks
from messenger.webhook import followups
from outgoing import payloads, services
from outgoing import tasks as outgoing_tasks
from outgoing.models import Delivery, OutgoingEvent, WebhookEndpoint
from sla.models import SlaPolicy
from tests import factories
from tests.channels.facebook import DEMO_PAGE, Facebook, facebook  # noqa: F401 (fixtures)
from tests.conftest import Tenant, api_client_for
from tickets.models import Ticket, TicketOrigin
from tickets.services_sla import tickets_sla_sweep

# A public address written out: registering it resolves no name.
ENDPOINT_URL = "http://93.184.215.14/hooks"


@dataclass
class Endpoints:
    alpha: WebhookEndpoint  # every event
    alpha_closed_only: WebhookEndpoint  # wants conversation.closed only
    bravo: WebhookEndpoint  # every event, of the other organization


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_broker() -> Iterator[None]:
    """What would reach Celery after commit is recorded instead: the senders of the endpoints,
    the sandbox's webhooks (flushed by the tests), the webhook's follow-ups."""
    followups.broker_pause_reset()
    with (
        mock.patch.object(outgoing_tasks.deliver, "delay", autospec=True),
        mock.patch.object(sandbox_tasks.deliver_pending_webhooks, "delay", autospec=True),
        mock.patch.object(followups.webhook_tasks.webhook_followups, "delay", autospec=True),
    ):
        yield
    followups.broker_pause_reset()


@pytest.fixture
def endpoints(tenant_a: Tenant, tenant_b: Tenant) -> Endpoints:
    def create(tenant: Tenant, events: list[str]) -> WebhookEndpoint:
        return services.endpoint_create(
            organization=tenant.organization, acting_user=tenant.admin.user, url=ENDPOINT_URL, events=events
        )

    every = list(signals.EVENT_TYPES)
    return Endpoints(create(tenant_a, every), create(tenant_a, [signals.CONVERSATION_CLOSED]), create(tenant_b, every))


def _outbox(type: str) -> list[tuple[int, str, int, int | None]]:
    """The events of this type: (organization, resource, resource id, conversation id)."""
    return list(
        OutgoingEvent.objects.filter(type=type)
        .order_by("pk")
        .values_list("organization_id", "resource", "resource_id", "conversation_id")
    )


def _deliveries(type: str) -> Counter[int]:
    """How many deliveries of this type each endpoint has."""
    return Counter(Delivery.objects.filter(event__type=type).values_list("endpoint_id", flat=True))


def _data(type: str, resource_id: int) -> dict[str, Any]:
    """The `data` of the event, as its first delivery writes it."""
    event = OutgoingEvent.objects.get(type=type, resource_id=resource_id)
    payloads.bodies_write([event.pk])
    event.refresh_from_db()
    body = json.loads(event.body)
    assert (body["id"], body["type"]) == (str(event.public_id), type)
    return dict(body["data"])


def _clock_free(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without the seconds its SLA has left (read at two different instants)."""
    sla = resource.get("sla")
    return {**resource, "sla": {**sla, "seconds_left": None} if sla else sla}


def _api_results(tenant: Tenant, path: str) -> list[dict[str, Any]]:
    answer = api_client_for(tenant.admin).get(path)
    assert answer.status_code == 200, answer.content
    return list(answer.json()["results"])


def _api_message(tenant: Tenant, message: Message) -> dict[str, Any]:
    results = _api_results(tenant, f"/api/v1/conversations/{message.conversation_id}/messages/")
    return next(item for item in results if item["id"] == message.pk)


def _api_linked_page(tenant: Tenant, page: FacebookPage) -> dict[str, Any]:
    answer = api_client_for(tenant.admin).get(f"/api/v1/channels/{page.channel_id}/pages/")
    assert answer.status_code == 200, answer.content
    return next(item for item in answer.json() if item["id"] == page.pk)


# --------------------------------------------------------------------------- replies, over the sandbox


def _customer_wrote(tenant: Tenant) -> tuple[Conversation, FacebookPage]:
    """A page of the organization linked with a sandbox token, and a customer who just wrote to it
    (through the product's own webhook)."""
    channel = factories.make_channel(tenant.organization, tenant.department, name="Messenger")
    factories.associate(tenant.agent, channel)
    page = factories.make_page(channel, page_id=DEMO_PAGE, token=people.sandbox_page_token_issue(page_id=DEMO_PAGE))
    customer = customers.sandbox_customer_create(page_id=DEMO_PAGE, first_name="Kenji", last_name="Sato")
    wrote = customers.sandbox_customer_message(page_id=DEMO_PAGE, psid=customer.psid, text="Where is my parcel?")
    assert wrote["status"] == 200
    return Conversation.objects.get(contact__psid=customer.psid), page


def _reply(tenant: Tenant, conversation: Conversation, text: str = "It left the warehouse today.") -> Message:
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as delay:
        message = replies.message_send(
            organization=tenant.organization, acting_user=tenant.agent.user, conversation=conversation, text=text
        )
    delay.assert_called_once_with(message.pk)
    return message


def _run_sending_task(message: Message) -> Message:
    sending_tasks.send_message.apply(args=[message.pk])
    message.refresh_from_db()
    return message


@pytest.mark.django_db(transaction=True)
def test_a_reply_the_send_api_took_is_announced_once_as_the_api_shows_it(
    facebook: Facebook, tenant_a: Tenant, endpoints: Endpoints
) -> None:
    conversation, _page = _customer_wrote(tenant_a)
    reply = _run_sending_task(_reply(tenant_a, conversation))
    assert reply.status == MessageStatus.SENT

    assert _outbox(signals.MESSAGE_SENT) == [(tenant_a.organization.pk, signals.MESSAGE, reply.pk, conversation.pk)]
    data = _data(signals.MESSAGE_SENT, reply.pk)
    assert data == _api_message(tenant_a, reply)
    assert (data["id"], data["conversation_id"], data["status"], data["mid"]) == (
        reply.pk,
        conversation.pk,
        "sent",
        reply.mid,
    )
    assert (data["direction"], data["text"], data["author"]["user_id"]) == (
        "out",
        "It left the warehouse today.",
        tenant_a.agent.user_id,
    )

    # Facebook's echo and delivery receipt come back through the webhook; the task runs again.
    assert webhooks.flush_webhooks() == 2
    assert _run_sending_task(reply).status == MessageStatus.DELIVERED
    assert len(_outbox(signals.MESSAGE_SENT)) == 1
    assert _deliveries(signals.MESSAGE_SENT) == {endpoints.alpha.pk: 1}
    assert not _outbox(signals.MESSAGE_FAILED)


@pytest.mark.django_db(transaction=True)
def test_a_send_that_timed_out_is_announced_once_by_its_echo_and_not_again_by_the_retry(
    facebook: Facebook, tenant_a: Tenant, endpoints: Endpoints, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation, _page = _customer_wrote(tenant_a)
    settings.FB_GRAPH_TIMEOUT = 0.5
    monkeypatch.setattr(messenger_client._local, "client", None, raising=False)  # built again: short timeout
    # Slow, but it goes through: the sandbox sends it (and owes its echo) after the client gave up.
    send_failures.sandbox_send_failures_script(page_id=DEMO_PAGE, http_status=200, code=0, delay_seconds=1.5)
    reply = _reply(tenant_a, conversation)

    assert delivery.message_deliver(message_id=reply.pk) == delivery.OUTCOME_UNKNOWN_RETRY_SECONDS
    reply.refresh_from_db()
    assert (reply.status, reply.error_code) == (MessageStatus.QUEUED, "graph_timeout")
    assert not _outbox(signals.MESSAGE_SENT)

    deadline = time.monotonic() + 10
    while webhooks.outbound_pending_count() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert webhooks.flush_webhooks() == 2  # the echo settles it as sent, then its delivery
    reply.refresh_from_db()
    assert reply.status == MessageStatus.DELIVERED
    assert _outbox(signals.MESSAGE_SENT) == [(tenant_a.organization.pk, signals.MESSAGE, reply.pk, conversation.pk)]

    assert delivery.message_deliver(message_id=reply.pk) is None  # the retry finds nothing to send
    assert len(_outbox(signals.MESSAGE_SENT)) == 1
    assert _deliveries(signals.MESSAGE_SENT) == {endpoints.alpha.pk: 1}
    assert not _outbox(signals.MESSAGE_FAILED)


@pytest.mark.django_db(transaction=True)
def test_an_echo_that_comes_before_the_send_api_answers_announces_the_reply_once(
    facebook: Facebook, tenant_a: Tenant, endpoints: Endpoints
) -> None:
    conversation, _page = _customer_wrote(tenant_a)
    reply = _reply(tenant_a, conversation)
    call_with_page = delivery.call_with_page

    def echo_first(page: FacebookPage, call: Any) -> Any:
        """Facebook's echo reaches the webhook while the Send API's answer is still on its way."""
        answer = call_with_page(page, call)
        assert webhooks.flush_webhooks() == 2
        return answer

    with mock.patch.object(delivery, "call_with_page", autospec=True, side_effect=echo_first):
        assert _run_sending_task(reply).status == MessageStatus.DELIVERED

    assert _outbox(signals.MESSAGE_SENT) == [(tenant_a.organization.pk, signals.MESSAGE, reply.pk, conversation.pk)]
    assert _deliveries(signals.MESSAGE_SENT) == {endpoints.alpha.pk: 1}


@pytest.mark.django_db(transaction=True)
def test_a_reply_the_send_api_refuses_is_announced_once_as_failed(
    facebook: Facebook, tenant_a: Tenant, endpoints: Endpoints
) -> None:
    conversation, _page = _customer_wrote(tenant_a)
    preset = send_failures.failure_presets()["unavailable"]  # 551: this person isn't available
    send_failures.sandbox_send_failures_script(
        page_id=DEMO_PAGE, http_status=preset.http_status, code=preset.code, subcode=preset.subcode
    )
    reply = _run_sending_task(_reply(tenant_a, conversation))
    assert reply.status == MessageStatus.FAILED

    assert _outbox(signals.MESSAGE_FAILED) == [(tenant_a.organization.pk, signals.MESSAGE, reply.pk, conversation.pk)]
    data = _data(signals.MESSAGE_FAILED, reply.pk)
    assert data == _api_message(tenant_a, reply)
    assert (data["id"], data["status"], data["error_code"]) == (reply.pk, "failed", reply.error_code)
    assert data["error_code"] and data["failure_reason"]

    assert _run_sending_task(reply).status == MessageStatus.FAILED  # run again: nothing more
    assert len(_outbox(signals.MESSAGE_FAILED)) == 1
    assert _deliveries(signals.MESSAGE_FAILED) == {endpoints.alpha.pk: 1}
    assert not _outbox(signals.MESSAGE_SENT) and not _outbox(signals.PAGE_NEEDS_REAUTHORIZATION)


@pytest.mark.django_db(transaction=True)
def test_error_190_on_a_send_fails_the_reply_and_the_page_needs_re_authorization_once(
    facebook: Facebook, tenant_a: Tenant, endpoints: Endpoints
) -> None:
    conversation, page = _customer_wrote(tenant_a)
    preset = send_failures.failure_presets()["token_expired"]  # 190 / 463
    send_failures.sandbox_send_failures_script(
        page_id=DEMO_PAGE, http_status=preset.http_status, code=preset.code, subcode=preset.subcode
    )
    first = _run_sending_task(_reply(tenant_a, conversation, "First"))
    # The next reply is refused before it leaves: the page needs re-authorization already.
    second = _run_sending_task(_reply(tenant_a, conversation, "Second"))
    assert first.status == second.status == MessageStatus.FAILED

    organization_id = tenant_a.organization.pk
    assert _outbox(signals.MESSAGE_FAILED) == [
        (organization_id, signals.MESSAGE, first.pk, conversation.pk),
        (organization_id, signals.MESSAGE, second.pk, conversation.pk),
    ]
    assert _outbox(signals.PAGE_NEEDS_REAUTHORIZATION) == [(organization_id, signals.PAGE, page.pk, None)]
    data = _data(signals.PAGE_NEEDS_REAUTHORIZATION, page.pk)
    assert data == {**_api_linked_page(tenant_a, page), "channel_id": page.channel_id}
    assert (data["id"], data["page_id"], data["status"], data["reauthorization_reason"]) == (
        page.pk,
        DEMO_PAGE,
        PageStatus.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.TOKEN_EXPIRED,
    )
    assert _deliveries(signals.PAGE_NEEDS_REAUTHORIZATION) == {endpoints.alpha.pk: 1}
    assert _deliveries(signals.MESSAGE_FAILED) == {endpoints.alpha.pk: 2}


# --------------------------------------------------------------------------- the recovery sweep


@pytest.mark.django_db
def test_a_send_of_unknown_outcome_the_recovery_sweep_fails_is_announced_once(
    tenant_a: Tenant, tenant_b: Tenant, endpoints: Endpoints
) -> None:
    now = timezone.now()
    stuck = []
    for tenant in (tenant_a, tenant_b):
        channel = factories.make_channel(tenant.organization, tenant.department)
        conversation = factories.make_conversation(factories.make_page(channel))
        stuck.append(
            factories.make_message(
                conversation,
                direction="out",
                status=MessageStatus.SENDING,
                status_changed_at=now - recovery.SENDING_TIMEOUT - timedelta(minutes=1),
            )
        )

    assert recovery.message_sweep(now=now)[0] == 2
    assert recovery.message_sweep(now=now)[0] == 0

    assert _outbox(signals.MESSAGE_FAILED) == [
        (message.organization_id, signals.MESSAGE, message.pk, message.conversation_id) for message in stuck
    ]
    data = _data(signals.MESSAGE_FAILED, stuck[0].pk)
    assert (data["id"], data["status"], data["error_code"]) == (stuck[0].pk, "failed", "unknown_outcome")
    assert _deliveries(signals.MESSAGE_FAILED) == {endpoints.alpha.pk: 1, endpoints.bravo.pk: 1}


# --------------------------------------------------------------------------- SLA breaches


def _waiting(tenant: Tenant, *, waiting_for: timedelta, **minutes: int) -> Conversation:
    """A customer waiting this long in a channel of its own, with its own policy's targets."""
    channel = factories.make_channel(tenant.organization, tenant.department)
    SlaPolicy.objects.create(organization=tenant.organization, department=tenant.department, channel=channel, **minutes)
    since = timezone.now() - waiting_for
    conversation = factories.make_conversation(factories.make_page(channel), waiting_since=since, last_inbound_at=since)
    factories.make_message(conversation, text="Anyone there?", sent_at=since)
    return conversation


@pytest.mark.django_db
def test_a_conversation_breaching_its_response_target_is_announced_once_to_its_own_organization(
    tenant_a: Tenant, tenant_b: Tenant, endpoints: Endpoints
) -> None:
    alpha = _waiting(tenant_a, first_response_minutes=10, waiting_for=timedelta(minutes=30))
    bravo = _waiting(tenant_b, first_response_minutes=10, waiting_for=timedelta(minutes=30))
    on_time = _waiting(tenant_a, first_response_minutes=60, waiting_for=timedelta(minutes=5))

    assert conversations_sla_sweep().breached == 2
    assert conversations_sla_sweep().breached == 0

    assert _outbox(signals.SLA_BREACHED) == [
        (tenant_a.organization.pk, signals.CONVERSATION, alpha.pk, alpha.pk),
        (tenant_b.organization.pk, signals.CONVERSATION, bravo.pk, bravo.pk),
    ]
    assert _deliveries(signals.SLA_BREACHED) == {endpoints.alpha.pk: 1, endpoints.bravo.pk: 1}
    [to_alpha] = Delivery.objects.filter(event__resource_id=alpha.pk, event__type=signals.SLA_BREACHED)
    assert to_alpha.endpoint == endpoints.alpha
    data = _data(signals.SLA_BREACHED, alpha.pk)
    api = next(item for item in _api_results(tenant_a, "/api/v1/conversations/") if item["id"] == alpha.pk)
    assert _clock_free(data) == _clock_free(api)
    assert (data["id"], data["state"], data["sla"]["target"], data["sla"]["status"]) == (
        alpha.pk,
        "open",
        "first_response",
        "breached",
    )
    assert on_time.pk not in {resource_id for _o, _r, resource_id, _c in _outbox(signals.SLA_BREACHED)}


@pytest.mark.django_db
def test_a_ticket_breaching_its_resolution_target_is_announced_once_with_its_conversation(
    tenant_a: Tenant, tenant_b: Tenant, endpoints: Endpoints
) -> None:
    conversation = _waiting(tenant_a, waiting_for=timedelta(hours=2), resolution_minutes=60)
    message = conversation.messages.get()
    ticket = Ticket.objects.create(
        organization=tenant_a.organization,
        department=conversation.department,
        channel=conversation.channel,
        conversation=conversation,
        contact=conversation.contact,
        origin=TicketOrigin.MANUAL,
        subject="Parcel lost",
        first_message=message,
        last_message=message,
        created_at=timezone.now() - timedelta(hours=2),
    )

    assert tickets_sla_sweep().breached == 1
    assert tickets_sla_sweep().breached == 0

    assert _outbox(signals.SLA_BREACHED) == [(tenant_a.organization.pk, signals.TICKET, ticket.pk, conversation.pk)]
    assert _deliveries(signals.SLA_BREACHED) == {endpoints.alpha.pk: 1}
    data = _data(signals.SLA_BREACHED, ticket.pk)
    api = next(item for item in _api_results(tenant_a, "/api/v1/tickets/") if item["id"] == ticket.pk)
    assert _clock_free(data) == _clock_free(api)
    assert (data["id"], data["subject"], data["sla"]["target"], data["sla"]["status"]) == (
        ticket.pk,
        "Parcel lost",
        "resolution",
        "breached",
    )


@pytest.mark.django_db
def test_a_breach_sweep_rolled_back_announces_nothing(tenant_a: Tenant, endpoints: Endpoints) -> None:
    conversation = _waiting(tenant_a, first_response_minutes=10, waiting_for=timedelta(minutes=30))
    with (
        mock.patch("messenger.services.sla.sla_alerts_send", autospec=True, side_effect=RuntimeError("mail down")),
        pytest.raises(RuntimeError),
    ):
        conversations_sla_sweep()
    assert ConversationSla.objects.get(conversation=conversation).breached_at is None
    assert not _outbox(signals.SLA_BREACHED) and not Delivery.objects.exists()

    assert conversations_sla_sweep().breached == 1  # the next minute's run marks and announces it
    assert _outbox(signals.SLA_BREACHED) == [
        (tenant_a.organization.pk, signals.CONVERSATION, conversation.pk, conversation.pk)
    ]


# --------------------------------------------------------------------------- pages


def _expired_pages(tenant: Tenant, count: int) -> list[FacebookPage]:
    channel = factories.make_channel(tenant.organization, tenant.department)
    now = timezone.now()
    return [
        factories.make_page(
            channel,
            name=f"{tenant.organization.slug} shop {number}",
            token_checked_at=now,
            token_expires_at=now - timedelta(hours=1),
            authorized_at=now - timedelta(days=30),
        )
        for number in range(count)
    ]


@pytest.mark.django_db
def test_the_expiry_sweeps_one_update_announces_each_page_once_to_its_own_organization(
    tenant_a: Tenant, tenant_b: Tenant, endpoints: Endpoints, django_capture_on_commit_callbacks: Any
) -> None:
    alpha_pages = _expired_pages(tenant_a, 3)
    bravo_pages = _expired_pages(tenant_b, 2)
    flagged_already = _expired_pages(tenant_a, 1)[0]
    FacebookPage.objects.filter(pk=flagged_already.pk).update(
        status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=ReauthorizationReason.TOKEN_INVALID
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.token_expiry_sweep(check_limit=0).expired == 5
        assert sweeps.token_expiry_sweep(check_limit=0).expired == 0

    assert sorted(_outbox(signals.PAGE_NEEDS_REAUTHORIZATION)) == sorted(
        (page.organization_id, signals.PAGE, page.pk, None) for page in alpha_pages + bravo_pages
    )
    assert _deliveries(signals.PAGE_NEEDS_REAUTHORIZATION) == {endpoints.alpha.pk: 3, endpoints.bravo.pk: 2}
    for page in alpha_pages + bravo_pages:
        [to] = Delivery.objects.filter(event__resource_id=page.pk, event__type=signals.PAGE_NEEDS_REAUTHORIZATION)
        assert to.endpoint == (endpoints.alpha if page in alpha_pages else endpoints.bravo)
    page = alpha_pages[0]
    data = _data(signals.PAGE_NEEDS_REAUTHORIZATION, page.pk)
    assert data == {**_api_linked_page(tenant_a, page), "channel_id": page.channel_id}
    assert (data["id"], data["page_id"], data["status"], data["reauthorization_reason"]) == (
        page.pk,
        page.page_id,
        PageStatus.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.TOKEN_EXPIRED,
    )


@pytest.mark.django_db
def test_an_expiry_sweep_rolled_back_announces_nothing(tenant_a: Tenant, endpoints: Endpoints) -> None:
    [page] = _expired_pages(tenant_a, 1)
    with (
        mock.patch(
            "messenger.pages.authorization.notify_reauthorization_required",
            autospec=True,
            side_effect=RuntimeError("the notice failed"),
        ),
        pytest.raises(RuntimeError),
    ):
        sweeps.token_expiry_sweep(check_limit=0)
    page.refresh_from_db()
    assert page.status == PageStatus.ACTIVE
    assert not _outbox(signals.PAGE_NEEDS_REAUTHORIZATION) and not Delivery.objects.exists()


@pytest.mark.django_db
def test_a_refused_token_reported_again_announces_the_page_once(tenant_a: Tenant, endpoints: Endpoints) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(channel)
    token = page.access_token_encrypted

    with pytest.raises(RuntimeError), transaction.atomic():
        assert page_authorization_mark_reauthorization_required(
            page=page, reason=ReauthorizationReason.TOKEN_INVALID, refused_token=token
        )
        raise RuntimeError("the call's transaction is rolled back")
    assert not _outbox(signals.PAGE_NEEDS_REAUTHORIZATION)

    page = FacebookPage.objects.get(pk=page.pk)
    assert page_authorization_mark_reauthorization_required(
        page=page, reason=ReauthorizationReason.TOKEN_INVALID, refused_token=token
    )
    # The same token refused again, then for another reason: still the one transition.
    assert not page_authorization_mark_reauthorization_required(
        page=page, reason=ReauthorizationReason.TOKEN_INVALID, refused_token=token
    )
    assert page_authorization_mark_reauthorization_required(
        page=page, reason=ReauthorizationReason.PASSWORD_CHANGED, refused_token=token
    )
    page.refresh_from_db()
    assert page.reauthorization_reason == ReauthorizationReason.PASSWORD_CHANGED
    assert _outbox(signals.PAGE_NEEDS_REAUTHORIZATION) == [(tenant_a.organization.pk, signals.PAGE, page.pk, None)]
    assert _deliveries(signals.PAGE_NEEDS_REAUTHORIZATION) == {endpoints.alpha.pk: 1}


@pytest.mark.django_db
def test_a_data_deletion_announces_the_linked_pages_that_came_to_need_re_authorization(
    tenant_a: Tenant, endpoints: Endpoints
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    working = factories.make_page(channel, authorized_by_facebook_user="4242")
    flagged_already = factories.make_page(
        channel,
        authorized_by_facebook_user="4242",
        status=PageStatus.REAUTHORIZATION_REQUIRED,
        reauthorization_reason=ReauthorizationReason.TOKEN_EXPIRED,
    )
    removed = factories.make_page(channel, authorized_by_facebook_user="4242", unlinked_at=timezone.now())

    forgotten = pages_authorization_forget_person(facebook_user_id="4242", now=timezone.now())

    assert {row["pk"] for row in forgotten} == {working.pk, flagged_already.pk, removed.pk}
    assert _outbox(signals.PAGE_NEEDS_REAUTHORIZATION) == [(tenant_a.organization.pk, signals.PAGE, working.pk, None)]
    data = _data(signals.PAGE_NEEDS_REAUTHORIZATION, working.pk)
    assert (data["status"], data["reauthorization_reason"]) == (
        PageStatus.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.DATA_DELETION,
    )
    assert _deliveries(signals.PAGE_NEEDS_REAUTHORIZATION) == {endpoints.alpha.pk: 1}
