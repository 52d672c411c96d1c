"""Where people see ratings: the channel's setting (admins), the rating on the conversation
page and the ticket page (members who see them; another organization's get 404), and the
summary the reports call."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from csat import selectors
from csat.models import Survey, SurveyOccasion, SurveyStatus
from tests import factories
from tests.conftest import Tenant
from tests.csat.conftest import Desk, make_desk
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def rated(desk: Desk, *, score: int | None, comment: str = "", agent: Any = None, **fields: Any) -> Survey:
    now = timezone.now()
    return Survey.objects.create(
        organization=desk.tenant.organization,
        conversation=desk.conversation,
        channel=desk.channel,
        department=desk.channel.department,
        agent=agent or desk.tenant.agent.user,
        occasion=SurveyOccasion.CONVERSATION_CLOSED,
        occasion_id=fields.pop("occasion_id", Survey.objects.count() + 1),
        status=fields.pop("status", SurveyStatus.SENT),
        language="en",
        asked_at=fields.pop("asked_at", now - timedelta(hours=1)),
        score=score,
        answered_at=fields.pop("answered_at", now - timedelta(minutes=30) if score else None),
        comment=comment,
        **fields,
    )


def test_admins_switch_the_rating_on_in_the_channel_settings(tenant_a: Tenant, web_client_for: Any) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    assert channel.asks_for_rating is False  # off by default
    client = web_client_for(tenant_a.admin)
    url = f"/o/alpha/settings/channels/{channel.pk}/"
    page = client.get(url).content.decode()
    assert 'name="asks_for_rating"' in page and "Ask customers for a rating" in page

    response = client.post(url, {"name": channel.name, "department": tenant_a.department.pk, "asks_for_rating": "on"})
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.asks_for_rating is True
    assert 'name="asks_for_rating" id="id_asks_for_rating" aria-describedby="id_asks_for_rating_help" checked' in (
        client.get(url).content.decode()
    )

    client.post(url, {"name": channel.name, "department": tenant_a.department.pk})
    channel.refresh_from_db()
    assert channel.asks_for_rating is False


def test_only_the_organizations_admins_change_the_setting(
    tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    data = {"name": channel.name, "department": tenant_a.department.pk, "asks_for_rating": "on"}
    assert web_client_for(tenant_b.admin).post(f"/o/bravo/settings/channels/{channel.pk}/", data).status_code == 404
    agent = web_client_for(tenant_a.agent).post(f"/o/alpha/settings/channels/{channel.pk}/", data)
    assert agent.status_code in (403, 404)
    channel.refresh_from_db()
    assert channel.asks_for_rating is False


def test_the_conversation_page_shows_the_score_and_comment(tenant_a: Tenant, web_client_for: Any) -> None:
    desk = make_desk(tenant_a)
    rated(desk, score=4, comment="Quick & kind")
    client = web_client_for(tenant_a.agent)
    page = client.get(f"/o/alpha/inbox/{desk.conversation.pk}/").content.decode()
    rating_url = f"/o/alpha/ratings/conversations/{desk.conversation.pk}/"
    assert f'hx-get="{rating_url}"' in page

    partial = client.get(rating_url).content.decode()
    assert 'data-score="4"' in partial and "4 out of 5" in partial
    assert "Quick &amp; kind" in partial
    assert "Closed by" in partial


def test_the_rating_reads_in_japanese(tenant_a: Tenant, web_client_for: Any) -> None:
    desk = make_desk(tenant_a)
    rated(desk, score=2)
    tenant_a.agent.language = "ja"
    tenant_a.agent.save(update_fields=["language"])
    partial = web_client_for(tenant_a.agent).get(f"/o/alpha/ratings/conversations/{desk.conversation.pk}/")
    assert "5 段階中 2" in partial.content.decode()


def test_a_survey_not_sent_says_why(tenant_a: Tenant, web_client_for: Any) -> None:
    desk = make_desk(tenant_a)
    rated(desk, score=None, status=SurveyStatus.NOT_SENT, not_sent_reason="reply_window_closed")
    partial = web_client_for(tenant_a.agent).get(f"/o/alpha/ratings/conversations/{desk.conversation.pk}/")
    assert "24-hour window had closed" in partial.content.decode()


def test_the_ticket_page_shows_its_rating(tenant_a: Tenant, web_client_for: Any) -> None:
    from tickets import services as ticket_services

    desk = make_desk(tenant_a)
    ticket = ticket_services.ticket_create_from_conversation(
        organization=tenant_a.organization,
        acting_user=tenant_a.agent.user,
        membership=tenant_a.agent,
        conversation_id=desk.conversation.pk,
    )
    rated(desk, score=5, comment="Solved", ticket=ticket)
    rated(desk, score=1, comment="Another ticket's")
    client = web_client_for(tenant_a.agent)
    rating_url = f"/o/alpha/ratings/tickets/{ticket.pk}/"
    assert f'hx-get="{rating_url}"' in client.get(f"/o/alpha/tickets/{ticket.pk}/").content.decode()
    partial = client.get(rating_url).content.decode()
    assert 'data-score="5"' in partial and "Solved" in partial
    assert "Another ticket" not in partial


def test_another_organizations_member_gets_404(tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any) -> None:
    desk = make_desk(tenant_a)
    rated(desk, score=3)
    ticket = Ticket.objects.create(
        organization=tenant_a.organization,
        department=tenant_a.department,
        channel=desk.channel,
        conversation=desk.conversation,
        contact=desk.conversation.contact,
        subject="Parcel",
        first_message=desk.conversation.messages.first(),
        last_message=desk.conversation.messages.first(),
    )
    client = web_client_for(tenant_b.admin)
    for org in ("alpha", "bravo"):
        assert client.get(f"/o/{org}/ratings/conversations/{desk.conversation.pk}/").status_code == 404
        assert client.get(f"/o/{org}/ratings/tickets/{ticket.pk}/").status_code == 404


def test_an_agent_of_another_channel_gets_404(tenant_a: Tenant, web_client_for: Any) -> None:
    desk = make_desk(tenant_a)
    rated(desk, score=3)
    stranger = factories.make_member(tenant_a.organization, username="stranger", departments=[tenant_a.department])
    response = web_client_for(stranger).get(f"/o/alpha/ratings/conversations/{desk.conversation.pk}/")
    assert response.status_code == 404


def test_the_summary_gives_average_and_distribution_by_channel_department_and_agent(
    tenant_a: Tenant, tenant_b: Tenant, sends: mock.MagicMock
) -> None:
    now = timezone.now()
    first, second = make_desk(tenant_a), make_desk(tenant_a)
    other_org = make_desk(tenant_b)
    rated(first, score=5)
    rated(first, score=4)
    rated(second, score=1, agent=tenant_a.admin.user)
    rated(first, score=2, answered_at=now - timedelta(days=40), asked_at=now - timedelta(days=40, hours=1))
    rated(first, score=None, status=SurveyStatus.NOT_SENT, not_sent_reason="reply_window_closed")
    rated(other_org, score=1)
    period = {"since": now - timedelta(days=7), "until": now}

    everything = selectors.rating_summary(organization=tenant_a.organization, **period)
    assert (everything.answered, everything.average) == (3, pytest.approx(10 / 3))
    assert everything.distribution == {1: 1, 2: 0, 3: 0, 4: 1, 5: 1}
    assert (everything.asked, everything.not_sent) == (3, 1)

    by_channel = selectors.rating_summary(organization=tenant_a.organization, channel_ids=[first.channel.pk], **period)
    assert (by_channel.answered, by_channel.average) == (2, 4.5)
    by_agent = selectors.rating_summary(
        organization=tenant_a.organization, agent_ids=[tenant_a.admin.user_id], **period
    )
    assert (by_agent.answered, by_agent.average, by_agent.distribution[1]) == (1, 1.0, 1)
    by_department = selectors.rating_summary(
        organization=tenant_a.organization, department_ids=[tenant_a.department.pk], **period
    )
    assert by_department.answered == 3
    nothing = selectors.rating_summary(
        organization=tenant_a.organization, since=now - timedelta(days=400), until=now - timedelta(days=300)
    )
    assert (nothing.answered, nothing.average, nothing.response_rate) == (0, None, None)


def test_the_api_reads_and_writes_the_setting_for_admins_of_the_organization(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    from tests.conftest import api_client_for

    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    admin = api_client_for(tenant_a.admin)
    url = f"/api/v1/channels/{channel.pk}/"
    assert admin.get(url).json()["asks_for_rating"] is False
    assert api_client_for(tenant_b.admin).patch(url, {"asks_for_rating": True}, format="json").status_code == 404
    assert admin.patch(url, {"asks_for_rating": True}, format="json").json()["asks_for_rating"] is True
    assert admin.patch(url, {"name": "Renamed"}, format="json").json()["asks_for_rating"] is True
    channel.refresh_from_db()
    assert channel.asks_for_rating is True


def test_the_transcript_shows_the_choices_offered_under_the_question(
    tenant_a: Tenant, web_client_for: Any, sends: mock.MagicMock
) -> None:
    from messenger.services.conversations import state

    desk = make_desk(tenant_a)
    state.conversation_close(
        organization=tenant_a.organization, acting_user=tenant_a.agent.user, conversation=desk.conversation
    )
    page = web_client_for(tenant_a.agent).get(f"/o/alpha/inbox/{desk.conversation.pk}/").content.decode()
    assert 'aria-label="Choices offered"' in page
    assert "5 · Excellent" in page and "1 · Poor" in page
