"""What the webhook queues for routing after commit (messenger.webhook.followups.routing_enqueue):
new and reopened conversations of a channel that assigns by itself are routed, customers of
a department using business hours may get the out-of-hours reply; nothing is queued for the
others, and a broker that is down never fails the POST."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.test import Client

from channels import services as channel_services
from channels.hours import Interval, departments_with_business_hours_forget
from channels.models import AssignmentMode
from messenger.models import Conversation, ConversationEvent, ConversationState, FacebookPage
from messenger.routing.route import channel_queue_drain_requested
from messenger.tasks import out_of_hours as out_of_hours_tasks
from messenger.tasks import routing as routing_tasks
from messenger.webhook import followups
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
from tests.messenger.routing_world import agent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["fast_password_hashing", "queued_followups"]


@pytest.fixture
def queued() -> Iterator[dict[str, mock.MagicMock]]:
    followups.broker_pause_reset()
    with (
        mock.patch.object(routing_tasks.drain_channel, "delay", autospec=True) as route,
        mock.patch.object(out_of_hours_tasks.out_of_hours_reply, "delay", autospec=True) as reply,
    ):
        yield {"route": route, "reply": reply}
    followups.broker_pause_reset()


def _page(tenant: Tenant, mode: str) -> FacebookPage:
    channel = factories.make_channel(tenant.organization, tenant.department, name="Messenger", assignment_mode=mode)
    return factories.make_page(channel, page_id=PAGE_ID)


@pytest.fixture
def client(client: Client, django_capture_on_commit_callbacks: Any) -> Client:
    """POSTs whose after-commit work runs when they answer (the test's transaction never commits)."""
    client.committed = django_capture_on_commit_callbacks  # type: ignore[attr-defined]
    return client


def writes(client: Client, mid: str, seconds: int = 0) -> None:
    item = text_item(mid=mid, timestamp=BASE_MS + seconds * 1000)
    with client.committed(execute=True):  # type: ignore[attr-defined]
        assert post_webhook(client, page_body((PAGE_ID, [item]))).status_code == 200


def test_a_new_conversation_of_a_channel_that_assigns_joins_its_queue_and_a_drain_is_queued(
    client: Client, tenant_a: Tenant, queued: dict[str, mock.MagicMock]
) -> None:
    page = _page(tenant_a, AssignmentMode.ROUND_ROBIN)
    writes(client, "m1")
    assert Conversation.objects.get().queued_at is not None
    queued["route"].assert_called_once_with(page.channel_id)
    writes(client, "m2", seconds=1)  # the same conversation, still open: nothing to route
    assert queued["route"].call_count == 1
    queued["reply"].assert_not_called()


def test_one_drain_is_queued_for_many_arrivals_until_it_starts(
    client: Client, tenant_a: Tenant, queued: dict[str, mock.MagicMock]
) -> None:
    page = _page(tenant_a, AssignmentMode.ROUND_ROBIN)
    for n in range(3):
        item = text_item(psid=f"70000000{n}", mid=f"m{n}", timestamp=BASE_MS)
        with client.committed(execute=True):  # type: ignore[attr-defined]
            assert post_webhook(client, page_body((PAGE_ID, [item]))).status_code == 200
    assert Conversation.objects.filter(queued_at__isnull=False).count() == 3
    queued["route"].assert_called_once_with(page.channel_id)
    channel_queue_drain_requested(channel_id=page.channel_id)  # the drain starts (nobody online)
    writes(client, "m9")
    assert queued["route"].call_count == 2


def test_a_reopened_conversation_is_routed_again(
    client: Client, tenant_a: Tenant, queued: dict[str, mock.MagicMock]
) -> None:
    page = _page(tenant_a, AssignmentMode.LEAST_LOADED)
    writes(client, "m1")
    channel_queue_drain_requested(channel_id=page.channel_id)  # the first drain ran
    Conversation.objects.update(state=ConversationState.CLOSED, queued_at=None)
    writes(client, "m2", seconds=1)
    assert Conversation.objects.get().queued_at is not None
    assert queued["route"].call_args_list == [mock.call(page.channel_id), mock.call(page.channel_id)]


def test_nothing_is_queued_for_a_channel_without_assignment_nor_business_hours(
    client: Client, tenant_a: Tenant, queued: dict[str, mock.MagicMock]
) -> None:
    _page(tenant_a, AssignmentMode.OFF)
    writes(client, "m1")
    queued["route"].assert_not_called()
    queued["reply"].assert_not_called()


def test_a_customer_of_a_department_using_business_hours_may_get_the_reply(
    client: Client, tenant_a: Tenant, queued: dict[str, mock.MagicMock]
) -> None:
    _page(tenant_a, AssignmentMode.OFF)
    channel_services.business_hours_set(
        organization=tenant_a.organization,
        acting_user=None,
        department_id=tenant_a.department.pk,
        is_enabled=True,
        intervals=[Interval(0, 9 * 60, 18 * 60)],
        holidays=[],
        out_of_hours_reply_en="We are closed.",
        out_of_hours_reply_ja="",
    )
    departments_with_business_hours_forget()
    writes(client, "m1")
    conversation = Conversation.objects.get()
    queued["reply"].assert_called_once_with(conversation.pk, "2026-01-01T00:00:00+00:00")
    departments_with_business_hours_forget()


def test_a_broker_that_is_down_never_fails_the_post(client: Client, tenant_a: Tenant) -> None:
    _page(tenant_a, AssignmentMode.ROUND_ROBIN)
    followups.broker_pause_reset()
    with mock.patch.object(
        routing_tasks.drain_channel, "delay", autospec=True, side_effect=ConnectionError("broker down")
    ):
        writes(client, "m1")
    followups.broker_pause_reset()
    assert Conversation.objects.get().assignee_id is None  # the routing sweep will route it


def test_end_to_end_the_new_conversation_lands_with_the_online_agent(
    client: Client, tenant_a: Tenant, settings: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    page = _page(tenant_a, AssignmentMode.ROUND_ROBIN)
    aiko = agent(tenant_a, page.channel, "Aiko")
    followups.broker_pause_reset()
    writes(client, "m1")
    conversation = Conversation.objects.get()
    assert conversation.assignee_id == aiko.user_id
    line = ConversationEvent.objects.get(conversation=conversation, kind=ConversationEvent.Kind.ASSIGNED)
    assert line.data["by"] == "round_robin"
