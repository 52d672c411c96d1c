"""Events written where the domain changes: the Messenger webhook (a new conversation, the
customer's messages, on both ways of storing a batch), closing and assigning a conversation;
each in the transaction of the change (nothing when it is rolled back)."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client

from helpdesk import signals
from messenger.models import Conversation, FacebookPage, Message
from messenger.services.conversations.assignment import conversation_assign
from messenger.services.conversations.state import conversation_close
from outgoing import services
from outgoing.models import Delivery, OutgoingEvent
from tests import factories
from tests.conftest import Tenant
from tests.messenger.fixtures import (
    BASE_MS,
    PAGE_ID,
    fast_password_hashing,
    page_body,
    post_webhook,
    queued_followups,
    text_item,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["fast_password_hashing", "queued_followups"]


@pytest.fixture
def page(tenant_a: Tenant) -> FacebookPage:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    factories.associate(tenant_a.agent, channel)
    return factories.make_page(channel, page_id=PAGE_ID)


@pytest.fixture
def endpoint(tenant_a: Tenant, dns: Any) -> Any:
    return services.endpoint_create(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        url="https://hooks.example.com/in",
        events=list(signals.EVENT_TYPES),
    )


def _events() -> list[tuple[str, int, int | None]]:
    return list(OutgoingEvent.objects.order_by("pk").values_list("type", "resource_id", "conversation_id"))


def test_the_webhook_writes_a_new_conversation_and_each_customer_message(
    client: Client, page: FacebookPage, endpoint: Any
) -> None:
    first = text_item(mid="m1", timestamp=BASE_MS)
    assert post_webhook(client, page_body((PAGE_ID, [first]))).status_code == 200
    second = text_item(mid="m2", timestamp=BASE_MS + 60_000)  # an existing conversation
    assert post_webhook(client, page_body((PAGE_ID, [second]))).status_code == 200
    conversation = Conversation.objects.get()
    m1, m2 = (Message.objects.get(mid=mid).pk for mid in ("m1", "m2"))
    assert _events() == [
        ("conversation.created", conversation.pk, conversation.pk),
        ("message.received", m1, conversation.pk),
        ("message.received", m2, conversation.pk),
    ]
    assert Delivery.objects.filter(endpoint=endpoint).count() == 3


def test_closing_and_assigning_write_their_events(tenant_a: Tenant, page: FacebookPage, endpoint: Any) -> None:
    conversation = factories.make_conversation(page)
    conversation_assign(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        conversation=conversation,
        assignee_membership_id=tenant_a.agent.pk,
    )
    conversation_close(organization=tenant_a.organization, acting_user=tenant_a.admin.user, conversation=conversation)
    assert [(type, pk) for type, pk, _c in _events()] == [
        ("conversation.assigned", conversation.pk),
        ("conversation.closed", conversation.pk),
    ]


def test_a_change_rolled_back_leaves_no_event(tenant_a: Tenant, page: FacebookPage, endpoint: Any) -> None:
    conversation = factories.make_conversation(page)
    with pytest.raises(RuntimeError), transaction.atomic():
        conversation_close(
            organization=tenant_a.organization, acting_user=tenant_a.admin.user, conversation=conversation
        )
        raise RuntimeError("the change fails after the close")
    assert _events() == [] and not Delivery.objects.exists()


def test_the_endpoints_a_webhook_post_asks_for_are_kept_until_one_changes(
    tenant_a: Tenant, dns: Any, django_assert_num_queries: Any
) -> None:
    """Every webhook POST asks which endpoints want its events: from the cache, and every
    change of an endpoint (created, its events edited, turned off, deleted) is seen at once."""
    organization = tenant_a.organization

    def wanting(type: str = signals.CONVERSATION_CLOSED) -> list[int]:
        return services.endpoints_wanting(organization_id=organization.pk, type=type)

    assert wanting() == []
    with django_assert_num_queries(0):
        assert wanting() == []
    endpoint = services.endpoint_create(
        organization=organization,
        acting_user=tenant_a.admin.user,
        url="https://hooks.example.com/a",
        events=[signals.CONVERSATION_CLOSED],
    )
    assert wanting() == [endpoint.pk]
    with django_assert_num_queries(0):
        assert wanting() == [endpoint.pk] and wanting(signals.TICKET_CREATED) == []
    services.endpoint_update(organization=organization, endpoint=endpoint, events=[signals.TICKET_CREATED])
    assert wanting() == [] and wanting(signals.TICKET_CREATED) == [endpoint.pk]
    services.endpoint_update(organization=organization, endpoint=endpoint, enabled=False)
    assert wanting(signals.TICKET_CREATED) == []
    services.endpoint_update(organization=organization, endpoint=endpoint, enabled=True)
    assert wanting(signals.TICKET_CREATED) == [endpoint.pk]
    services.endpoint_delete(organization=organization, endpoint=endpoint)
    assert wanting(signals.TICKET_CREATED) == []


def test_the_endpoints_are_read_from_the_database_when_the_cache_is_away(tenant_a: Tenant, dns: Any) -> None:
    endpoint = services.endpoint_create(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        url="https://hooks.example.com/a",
        events=[signals.CONVERSATION_CLOSED],
    )
    with mock.patch.object(cache, "get", side_effect=ConnectionError("cache away")):
        assert services.endpoints_wanting(
            organization_id=tenant_a.organization.pk, type=signals.CONVERSATION_CLOSED
        ) == [endpoint.pk]
