"""SLA alerts follow the member's alert preferences (Preferences: the "SLA target at risk or
breached" event) and reach them by email too, once, in their language."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core import mail

from helpdesk.models import AlertPreferences, Notification
from helpdesk.services import membership_alert_preferences_update
from messenger.services.sla import conversations_sla_sweep
from tests.sla.conftest import Desk, tokyo
from tickets.services_sla import tickets_sla_sweep


def _with_email(desk: Desk, address: str = "aiko@example.com", *, language: str = "") -> Any:
    agent = desk.tenant.agent
    get_user_model().objects.filter(pk=agent.user_id).update(email=address)
    if language:
        agent.language = language
        agent.save(update_fields=["language"])
    return agent


def _warn_and_breach(desk: Desk) -> None:
    desk.policy(first_response_minutes=60)
    desk.waiting(tokyo("2026-12-07 10:00"), assignee=desk.tenant.agent.user)
    conversations_sla_sweep(now=tokyo("2026-12-07 10:01"))
    conversations_sla_sweep(now=tokyo("2026-12-07 10:50"))
    conversations_sla_sweep(now=tokyo("2026-12-07 11:02"))
    conversations_sla_sweep(now=tokyo("2026-12-07 11:03"))


def test_the_assignee_is_mailed_once_at_risk_and_once_breached_in_their_language(
    desk: Desk, django_capture_on_commit_callbacks: Any
) -> None:
    _with_email(desk, language="ja")
    with django_capture_on_commit_callbacks(execute=True):
        _warn_and_breach(desk)
    assert [message.to for message in mail.outbox] == [["aiko@example.com"], ["aiko@example.com"]]
    at_risk, breached = mail.outbox
    assert "Hanako Yamada" in at_risk.subject and "Hanako Yamada" in breached.subject
    # Japanese words for a member who reads Japanese, and a link to the conversation.
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in at_risk.subject)
    assert "/o/alpha/inbox/" in at_risk.body


def test_email_off_keeps_the_bell_and_sends_no_mail(desk: Desk, django_capture_on_commit_callbacks: Any) -> None:
    agent = _with_email(desk)
    membership_alert_preferences_update(membership=agent, events=["sla"], ways=["in_app"])
    with django_capture_on_commit_callbacks(execute=True):
        _warn_and_breach(desk)
    assert mail.outbox == []
    assert sorted(Notification.objects.filter(user=agent.user).values_list("kind", flat=True)) == [
        Notification.Kind.SLA_AT_RISK,
        Notification.Kind.SLA_BREACHED,
    ]


def test_sla_alerts_turned_off_are_told_no_way(desk: Desk, django_capture_on_commit_callbacks: Any) -> None:
    agent = _with_email(desk)
    membership_alert_preferences_update(membership=agent, events=["mention"], ways=["in_app", "email"])
    with django_capture_on_commit_callbacks(execute=True):
        _warn_and_breach(desk)
    assert mail.outbox == []
    assert not Notification.objects.filter(user=agent.user).exists()


def test_a_ticket_breach_mails_its_assignee(desk: Desk, django_capture_on_commit_callbacks: Any) -> None:
    _with_email(desk, "owner@example.com")
    desk.policy(resolution_minutes=60)
    desk.ticket(tokyo("2026-12-07 10:00"), assignee=desk.tenant.agent.user)
    with django_capture_on_commit_callbacks(execute=True):
        tickets_sla_sweep(now=tokyo("2026-12-07 10:01"))
        tickets_sla_sweep(now=tokyo("2026-12-07 11:05"))
    assert [message.to for message in mail.outbox] == [["owner@example.com"]]
    assert "/o/alpha/tickets/" in mail.outbox[0].body


def test_preferences_offer_and_save_the_sla_event(desk: Desk, web_client_for: Any) -> None:
    client = web_client_for(desk.tenant.agent)
    assert 'value="sla"' in client.get("/o/alpha/preferences/").content.decode()
    response = client.post(
        "/o/alpha/preferences/",
        {"language": "", "time_zone": "", "alert_events": ["mention"], "alert_ways": ["in_app"]},
    )
    assert response.status_code == 302
    assert AlertPreferences.objects.get(membership=desk.tenant.agent).sla is False
