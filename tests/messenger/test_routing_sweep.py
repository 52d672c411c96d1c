"""The minute's routing sweep (messenger.routing.sweep): lost routings, an offline agent's
conversations back to the queue after the grace period, the queue drained to agents with room."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from availability.models import Availability, AvailabilitySettings, ChangeReason, Status
from availability.services import availability_set
from channels.models import AssignmentMode
from messenger.models import Conversation, ConversationEvent
from messenger.routing.sweep import routing_sweep
from messenger.tasks import routing as routing_tasks
from tests.conftest import Tenant
from tests.messenger.routing_world import agent, assignee_names, routing_channel, set_status, waiting


def test_a_conversation_whose_routing_was_lost_is_routed(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    agent(tenant_a, channel, "Aiko")
    lost = waiting(channel)
    off = waiting(routing_channel(tenant_a, AssignmentMode.OFF))

    assert routing_sweep().routed == 1

    assert assignee_names([lost, off]) == ["Aiko", None]
    assert routing_sweep().routed == 0


def _gone_offline(tenant: Tenant, minutes_ago: int, **settings_fields: object) -> tuple[Conversation, Conversation]:
    if settings_fields:
        AvailabilitySettings.objects.create(organization=tenant.organization, **settings_fields)
    channel = routing_channel(tenant)
    aiko = agent(tenant, channel, "Aiko")
    set_status(aiko, Status.OFFLINE, since=timezone.now() - timedelta(minutes=minutes_ago))
    manual = routing_channel(tenant, AssignmentMode.OFF)
    since = timezone.now() - timedelta(minutes=30)
    held = waiting(channel, assignee=aiko.user, waiting_since=since)
    kept = waiting(manual, assignee=aiko.user)
    return held, kept


def test_an_agent_offline_past_the_grace_period_loses_their_conversations_to_the_queue(tenant_a: Tenant) -> None:
    held, kept = _gone_offline(tenant_a, minutes_ago=11)  # the default grace: 10 minutes

    report = routing_sweep()

    assert report.requeued == 1
    held.refresh_from_db()
    assert held.assignee is None and held.queued_at == held.waiting_since
    assert assignee_names([kept]) == ["Aiko"]  # a channel without automatic assignment keeps its agent
    line = ConversationEvent.objects.get(conversation=held)
    assert line.kind == "requeued" and line.data["reason"] == "offline"
    assert line.data["previous"]["first_name"] == "Aiko"
    assert Availability.objects.get(membership__user__first_name="Aiko").requeued_at is not None
    # Once per offline spell.
    assert routing_sweep().requeued == 0


def test_requeued_conversations_go_to_another_online_agent(tenant_a: Tenant) -> None:
    held, _kept = _gone_offline(tenant_a, minutes_ago=11)
    agent(tenant_a, held.channel, "Ben")

    routing_sweep()

    assert assignee_names([held]) == ["Ben"]
    assert list(ConversationEvent.objects.filter(conversation=held).values_list("kind", flat=True)) == [
        "requeued",
        "assigned",
    ]


def test_nothing_goes_back_to_the_queue_before_the_grace_period(tenant_a: Tenant) -> None:
    held, _kept = _gone_offline(tenant_a, minutes_ago=25, offline_grace_minutes=30)

    assert routing_sweep().requeued == 0
    assert assignee_names([held]) == ["Aiko"]


def test_nothing_goes_back_to_the_queue_when_the_organization_turned_it_off(tenant_a: Tenant) -> None:
    held, _kept = _gone_offline(tenant_a, minutes_ago=120, requeue_when_offline=False)

    assert routing_sweep().requeued == 0
    assert assignee_names([held]) == ["Aiko"]


def test_an_agent_requeued_before_and_offline_again_is_requeued_again(tenant_a: Tenant) -> None:
    held, _kept = _gone_offline(tenant_a, minutes_ago=11)
    assert routing_sweep().requeued == 1
    aiko = Availability.objects.select_related("membership").get(membership__user__first_name="Aiko")
    # Back online, given the conversation again, then offline for a new spell.
    availability_set(membership=aiko.membership, status=Status.ONLINE, reason=ChangeReason.CHOSEN)
    Conversation.objects.filter(pk=held.pk).update(assignee=aiko.membership.user, queued_at=None)
    availability_set(
        membership=aiko.membership,
        status=Status.OFFLINE,
        reason=ChangeReason.CHOSEN,
        at=timezone.now() - timedelta(minutes=11),
    )

    assert routing_sweep().requeued == 1
    held.refresh_from_db()
    assert held.assignee is None


def test_away_is_not_offline(tenant_a: Tenant) -> None:
    held, _kept = _gone_offline(tenant_a, minutes_ago=60)
    Availability.objects.update(status=Status.AWAY)

    assert routing_sweep().requeued == 0
    assert assignee_names([held]) == ["Aiko"]


def test_the_queue_drains_to_online_agents_with_room(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    queued = waiting(channel, queued_at=timezone.now())
    agent(tenant_a, channel, "Aiko")  # online without a drain (say, a lost task)

    assert routing_sweep().drained == 1
    assert assignee_names([queued]) == ["Aiko"]


def test_the_sweep_runs_every_minute_and_expires_before_the_next() -> None:
    job = settings.CELERY_BEAT_SCHEDULE["messenger-routing-sweep"]
    assert job["task"] == routing_tasks.SWEEP == routing_tasks.routing_sweep.name
    assert job["schedule"] == 60.0
    assert job["options"] == {"expires": 55}


def test_the_sweep_task_runs_the_sweep(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    agent(tenant_a, channel, "Aiko")
    lost = waiting(channel)

    routing_tasks.routing_sweep()

    assert assignee_names([lost]) == ["Aiko"]
