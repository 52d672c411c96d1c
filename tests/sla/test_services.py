"""SLA policy writes (sla.services) and what the agent's reply keeps for the SLA."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from helpdesk.exceptions import NotFound
from messenger.services.sending.replies import reply_send
from sla.models import SlaClock, SlaPolicy
from sla.services import InvalidSlaTarget, SlaPolicyExists, policy_create, policy_update
from tests import factories
from tests.conftest import Tenant
from tests.sla.conftest import Desk

pytestmark = pytest.mark.django_db


def _create(tenant: Tenant, **targets: Any) -> SlaPolicy:
    return policy_create(
        organization=tenant.organization,
        acting_user=tenant.admin.user,
        department_id=tenant.department.pk,
        channel_id=None,
        targets=targets,
        clock=SlaClock.BUSINESS_HOURS,
    )


@pytest.mark.parametrize("minutes", [0, -1, 30 * 24 * 60 + 1, "soon", True])
def test_a_target_outside_one_minute_to_thirty_days_is_refused_with_a_stable_code(
    tenant_a: Tenant, minutes: Any
) -> None:
    with pytest.raises(InvalidSlaTarget) as refused:
        _create(tenant_a, first_response_minutes=minutes)
    assert refused.value.code == "invalid_sla_target"
    assert refused.value.details == {"first_response_minutes": ["A target runs from 1 minute to 30 days."]}
    assert not SlaPolicy.objects.exists()


def test_a_department_has_one_policy_and_a_changed_one_keeps_its_rules(tenant_a: Tenant) -> None:
    policy = _create(tenant_a, first_response_minutes=30)
    with pytest.raises(SlaPolicyExists):
        _create(tenant_a, first_response_minutes=10)
    with pytest.raises(InvalidSlaTarget):
        policy_update(
            organization=tenant_a.organization,
            acting_user=tenant_a.admin.user,
            policy=policy,
            targets={"resolution_minutes": 0},
            clock=SlaClock.WALL_CLOCK,
        )


def test_another_organization_channel_or_policy_is_not_found(tenant_a: Tenant, tenant_b: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    with pytest.raises(NotFound):
        policy_create(
            organization=tenant_b.organization,
            acting_user=tenant_b.admin.user,
            department_id=0,
            channel_id=channel.pk,
            targets={"first_response_minutes": 5},
            clock=SlaClock.WALL_CLOCK,
        )
    policy = _create(tenant_a, first_response_minutes=30)
    with pytest.raises(NotFound):
        policy_update(
            organization=tenant_b.organization,
            acting_user=tenant_b.admin.user,
            policy=policy,
            targets={},
            clock=SlaClock.WALL_CLOCK,
        )


def test_the_first_agent_reply_is_kept_and_a_later_one_does_not_move_it(desk: Desk) -> None:
    conversation = desk.waiting(timezone.now() - timedelta(minutes=5))
    agent = desk.tenant.agent.user

    reply_send(organization=desk.tenant.organization, acting_user=agent, conversation=conversation, text="Hello")
    conversation.refresh_from_db()
    first = conversation.first_answered_at
    assert first is not None and conversation.waiting_since is None

    reply_send(organization=desk.tenant.organization, acting_user=agent, conversation=conversation, text="Again")
    conversation.refresh_from_db()
    assert conversation.first_answered_at == first


def test_an_alert_is_told_once_and_read_in_the_reader_language(desk: Desk) -> None:
    from django.utils import translation

    from helpdesk.models import Notification
    from helpdesk.notifications import notification_text
    from messenger import notification_texts
    from sla.services import SlaAlert, sla_alerts_send

    conversation = desk.waiting(timezone.now())
    alert = SlaAlert(
        kind=Notification.Kind.SLA_BREACHED,
        target="first_response",
        department_id=desk.tenant.department.pk,
        assignee_id=desk.tenant.agent.user_id,
        params=notification_texts.sla_params(contact=conversation.contact, due_at=timezone.now()),
        url="/o/alpha/inbox/",
        subject_key=f"conversation:{conversation.pk}:x",
    )
    assert sla_alerts_send(organization=desk.tenant.organization, alerts=[alert]) == 1
    assert sla_alerts_send(organization=desk.tenant.organization, alerts=[alert]) == 0
    notice = Notification.objects.get()
    with translation.override("ja"):
        text = notification_text(notice)
    assert text.title == "SLA期限超過: Hanako Yamadaさんとの会話"
    assert text.body.startswith("初回応答の期限は")
