"""Reply-window alerts (messenger.window_alerts, messenger.services.window_alerts): a customer
still unanswered when the 24-hour window or the 7-day human-agent window is about to close is
flagged, and their conversation's assignee (or its department's admins) told once per window
per customer message; a closed 7-day window on an unanswered customer is kept as lost.
Time travels through the job's `now`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from helpdesk.models import (
    HUMAN_AGENT_WINDOW_ALERT_MAX_HOURS,
    RESPONSE_WINDOW_ALERT_MAX_MINUTES,
    Membership,
    Notification,
    Organization,
    Role,
)
from helpdesk.notifications import notification_text
from messenger.models import Conversation, ConversationState, ReplyWindowKind, WindowAlert, WindowLoss
from messenger.reply_window import HUMAN_AGENT_WINDOW, STANDARD_WINDOW
from messenger.selectors import window_losses as window_loss_selectors
from messenger.services import window_alerts as window_alerts_service
from messenger.services.sending.replies import reply_send
from messenger.services.window_alerts import window_alerts_send
from messenger.tasks.alerts import window_sweep
from messenger.window_alerts import AlertLeads, conversation_window_closing
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.messenger.fixtures import (
    PAGE_ID,
    PSID,
    fast_password_hashing,
    page_body,
    post_webhook,
    queued_followups,
    text_item,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["fast_password_hashing", "queued_followups"]

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PUBLIC_URL = "https://help.example"


class World:
    def __init__(self, tenant: Tenant) -> None:
        org = tenant.organization
        self.tenant = tenant
        self.now = timezone.now()
        Membership.objects.filter(pk=tenant.agent.pk).update(language="ja")
        for member, email in ((tenant.agent, "agent@example.com"), (tenant.admin, "admin@example.com")):
            member.user.email = email
            member.user.save(update_fields=["email"])
        self.sales = factories.make_department(org, "Sales")
        self.sales_admin = factories.make_member(
            org, role=Role.ADMIN, username="sales-admin", departments=[self.sales], email="sales@example.com"
        )
        self.channel = factories.make_channel(org, tenant.department, name="Support chat")
        factories.associate(tenant.agent, self.channel)
        self.page = factories.make_page(self.channel, page_id=PAGE_ID)

    def unanswered(self, ago: timedelta, *, psid: str | None = None, **fields: Any) -> Conversation:
        """An open conversation whose customer last wrote `ago` and waits since."""
        inbound = self.now - ago
        contact = factories.make_contact(self.page, psid=psid, display_name=fields.pop("name", "Kenji Mori"))
        fields.setdefault("assignee", self.tenant.agent.user)
        return factories.make_conversation(
            self.page, contact, last_inbound_at=inbound, last_message_at=inbound, waiting_since=inbound, **fields
        )

    def run(self, later: timedelta = timedelta(0)) -> Any:
        return window_alerts_send(now=self.now + later)


@pytest.fixture
def world(tenant_a: Tenant) -> World:
    return World(tenant_a)


def _notices(**filters: Any) -> list[Notification]:
    return list(Notification.objects.filter(kind=Notification.Kind.WINDOW_CLOSING, **filters).order_by("pk"))


# --- The 24-hour window ---------------------------------------------------------------------


def test_the_24_hour_window_is_flagged_two_hours_before_it_closes_and_its_assignee_told_once(
    world: World, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = world.unanswered(timedelta(0))
    leads = AlertLeads.of(world.tenant.organization)

    assert world.run(22 * HOUR - timedelta(minutes=1)).alerted == 0
    assert (
        conversation_window_closing(conversation, leads=leads, now=world.now + 22 * HOUR - timedelta(minutes=1)) is None
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert world.run(22 * HOUR).alerted == 1
    [notice] = _notices()
    assert notice.user_id == world.tenant.agent.user_id
    assert notice.url == f"/o/alpha/inbox/{conversation.pk}/"
    alert = WindowAlert.objects.get()
    assert (alert.window, alert.inbound_at) == (ReplyWindowKind.STANDARD, conversation.last_inbound_at)
    # Written in the reader's language (the agent reads Japanese), by email too.
    with translation.override("ja"):
        assert "24時間の返信期限" in notification_text(notice).title
    [mail] = mailoutbox
    assert mail.to == ["agent@example.com"]
    assert "24時間の返信期限" in mail.subject
    closing = conversation_window_closing(conversation, leads=leads, now=world.now + 22 * HOUR)
    assert closing is not None and closing.window == ReplyWindowKind.STANDARD
    assert closing.closes_at == conversation.last_inbound_at + STANDARD_WINDOW  # type: ignore[operator]

    # A second run, and a later one in the same window, change nothing.
    assert world.run(22 * HOUR).total == 0
    assert world.run(23 * HOUR).total == 0
    assert len(_notices()) == 1 and WindowAlert.objects.count() == 1
    # The window closed: no longer flagged (the 7-day one is not closing yet).
    assert conversation_window_closing(conversation, leads=leads, now=world.now + 24 * HOUR) is None


def test_the_lead_is_the_organizations(world: World) -> None:
    Organization.objects.filter(pk=world.tenant.organization.pk).update(response_window_alert_minutes=30)
    world.unanswered(timedelta(0))
    assert world.run(23 * HOUR).alerted == 0
    assert world.run(23 * HOUR + timedelta(minutes=30)).alerted == 1


# --- The 7-day window -----------------------------------------------------------------------


def test_the_7_day_window_is_flagged_a_day_before_it_closes_once(world: World) -> None:
    conversation = world.unanswered(timedelta(0))
    assert world.run(22 * HOUR).alerted == 1  # the 24-hour window's
    assert world.run(6 * DAY - timedelta(minutes=1)).alerted == 0
    assert world.run(6 * DAY).alerted == 1
    assert world.run(6 * DAY + HOUR).total == 0
    assert sorted(WindowAlert.objects.values_list("window", flat=True)) == [
        ReplyWindowKind.HUMAN_AGENT,
        ReplyWindowKind.STANDARD,
    ]
    notice = _notices()[-1]
    assert notice.params["window"] == ReplyWindowKind.HUMAN_AGENT
    with translation.override("en"):
        assert "7-day window" in notification_text(notice).title
    closing = conversation_window_closing(
        conversation, leads=AlertLeads.of(world.tenant.organization), now=world.now + 6 * DAY + HOUR
    )
    assert closing is not None and closing.window == ReplyWindowKind.HUMAN_AGENT
    with translation.override("en"):
        assert closing.short_label == "Window closing · 23 h"


def test_the_task_runs_the_job(world: World) -> None:
    world.unanswered(23 * HOUR)
    assert window_sweep() == 1
    assert window_sweep() == 0


# --- Re-armed, cleared ----------------------------------------------------------------------


def test_a_new_customer_message_rearms_the_alert(world: World, client: Any) -> None:
    conversation = world.unanswered(23 * HOUR, psid=PSID)
    assert world.run().alerted == 1
    # The customer writes again, through the webhook.
    item = text_item(mid="m_again", timestamp=int(world.now.timestamp() * 1000))
    assert post_webhook(client, page_body((PAGE_ID, [item]))).status_code == 200
    conversation.refresh_from_db()
    assert conversation.last_inbound_at is not None and conversation.last_inbound_at > world.now - HOUR
    assert world.run().alerted == 0  # the new message's window is far from closing
    assert world.run(22 * HOUR).alerted == 1
    assert WindowAlert.objects.filter(conversation=conversation).count() == 2
    assert len(_notices()) == 2


def test_an_agents_reply_clears_the_flag_and_nothing_is_told(world: World) -> None:
    conversation = world.unanswered(22 * HOUR + timedelta(minutes=30))
    leads = AlertLeads.of(world.tenant.organization)
    assert conversation_window_closing(conversation, leads=leads) is not None
    reply_send(
        organization=world.tenant.organization,
        acting_user=world.tenant.agent.user,
        conversation=conversation,
        text="We are on it.",
    )
    conversation.refresh_from_db()
    assert conversation.waiting_since is None
    assert conversation_window_closing(conversation, leads=leads) is None
    assert world.run().total == 0
    assert world.run(6 * DAY).total == 0
    assert world.run(8 * DAY).total == 0  # answered: not lost either
    assert _notices() == [] and not WindowLoss.objects.exists()


def test_closed_conversations_and_blocked_customers_are_not_flagged(world: World) -> None:
    world.unanswered(23 * HOUR, state=ConversationState.CLOSED)
    blocked = world.unanswered(23 * HOUR, name="Blocked")
    blocked.contact.is_blocked = True
    blocked.contact.save(update_fields=["is_blocked"])
    assert world.run().total == 0


# --- Who is told ----------------------------------------------------------------------------


def test_unassigned_the_departments_admins_are_told_not_another_departments_nor_organizations(
    world: World, tenant_b: Tenant
) -> None:
    factories.make_channel(tenant_b.organization, tenant_b.department)
    world.unanswered(23 * HOUR, assignee=None)
    assert world.run().alerted == 1
    [notice] = _notices()
    assert notice.user_id == world.tenant.admin.user_id
    assert not Notification.objects.filter(user=world.sales_admin.user).exists()
    assert not Notification.objects.filter(organization=tenant_b.organization).exists()
    assert not Notification.objects.filter(user__in=[tenant_b.admin.user, tenant_b.agent.user]).exists()


def test_an_assigned_conversation_tells_its_assignee_only(world: World) -> None:
    world.unanswered(23 * HOUR)
    world.run()
    assert [n.user_id for n in _notices()] == [world.tenant.agent.user_id]


def test_a_member_who_turned_the_event_off_gets_no_email(world: World, mailoutbox: Any) -> None:
    from helpdesk.services import membership_alert_preferences_update

    membership_alert_preferences_update(
        membership=world.tenant.agent, events={"new_conversation"}, ways={"in_app", "email"}
    )
    world.unanswered(23 * HOUR)
    world.run()
    assert _notices() == []
    assert mailoutbox == []


def test_the_job_tells_the_pages_live(world: World) -> None:
    conversation = world.unanswered(23 * HOUR)
    with mock.patch.object(window_alerts_service.conversation_changes, "conversations_told", autospec=True) as told:
        world.run()
    [call] = told.call_args_list
    assert [c.pk for c in call.args[0]] == [conversation.pk]
    assert call.kwargs == {"what": "window_closing"}


def test_the_desktop_alert_is_the_notices_in_the_readers_language_and_nobody_elses(
    world: World, web_client_for: Any
) -> None:
    """The page alerts of a new notice (helpdesk/static/helpdesk/alerts.js): the window-closing
    notice's words, as the member's Preferences want them; another member gets 404."""
    world.unanswered(23 * HOUR)
    world.run()
    [notice] = _notices()
    url = f"/o/alpha/notifications/{notice.pk}/alert.json"
    data = web_client_for(world.tenant.agent).get(url).json()
    assert "24時間の返信期限" in data["title"]
    assert data["desktop"] is True and data["kind"] == "window_closing"
    assert web_client_for(world.tenant.admin).get(url).status_code == 404


# --- Lost to a closed window ----------------------------------------------------------------


def test_a_closed_7_day_window_on_an_unanswered_customer_is_kept_as_lost_once(world: World) -> None:
    conversation = world.unanswered(HUMAN_AGENT_WINDOW - HOUR)
    assert world.run().lost == 0
    assert world.run(HOUR).lost == 1
    loss = WindowLoss.objects.get()
    assert loss.lost_at == conversation.last_inbound_at + HUMAN_AGENT_WINDOW  # type: ignore[operator]
    assert (loss.channel_id, loss.department_id, loss.assignee_id) == (
        world.channel.pk,
        world.tenant.department.pk,
        world.tenant.agent.user_id,
    )
    assert world.run(HOUR).total == 0
    assert world.run(DAY).total == 0
    assert WindowLoss.objects.count() == 1


def test_the_losses_are_counted_for_a_period_by_channel_department_and_agent(world: World, tenant_b: Tenant) -> None:
    org = world.tenant.organization
    other_channel = factories.make_channel(org, world.sales, name="Sales chat")
    other_page = factories.make_page(other_channel)
    world.unanswered(HUMAN_AGENT_WINDOW + HOUR)
    world.unanswered(HUMAN_AGENT_WINDOW + 2 * HOUR, assignee=None, name="B")
    factories.make_conversation(
        other_page,
        last_inbound_at=world.now - HUMAN_AGENT_WINDOW - 3 * HOUR,
        waiting_since=world.now - HUMAN_AGENT_WINDOW - 3 * HOUR,
    )
    # Lost three weeks ago: outside the period.
    world.unanswered(HUMAN_AGENT_WINDOW + 21 * DAY, name="Old")
    # Another organization's loss.
    b_channel = factories.make_channel(tenant_b.organization, tenant_b.department)
    factories.make_conversation(
        factories.make_page(b_channel),
        last_inbound_at=world.now - HUMAN_AGENT_WINDOW - HOUR,
        waiting_since=world.now - HUMAN_AGENT_WINDOW - HOUR,
    )
    assert world.run().lost == 5

    period = {"organization": org, "since": world.now - 7 * DAY, "until": world.now + HOUR}
    assert window_loss_selectors.window_loss_counts(**period) == [
        window_loss_selectors.WindowLossCount(key=None, count=3)
    ]
    by_channel = {row.key: row.count for row in window_loss_selectors.window_loss_counts(**period, by="channel")}
    assert by_channel == {world.channel.pk: 2, other_channel.pk: 1}
    by_department = {row.key: row.count for row in window_loss_selectors.window_loss_counts(**period, by="department")}
    assert by_department == {world.tenant.department.pk: 2, world.sales.pk: 1}
    by_agent = {row.key: row.count for row in window_loss_selectors.window_loss_counts(**period, by="agent")}
    assert by_agent == {world.tenant.agent.user_id: 1, None: 2}
    assert window_loss_selectors.window_loss_counts(**period, agent_id=world.tenant.agent.user_id)[0].count == 1
    assert window_loss_selectors.window_loss_counts(**period, channel_ids=[other_channel.pk])[0].count == 1
    assert window_loss_selectors.window_loss_counts(
        organization=tenant_b.organization, since=world.now - 7 * DAY, until=world.now + HOUR
    ) == [window_loss_selectors.WindowLossCount(key=None, count=1)]


def test_a_later_unanswered_message_can_be_lost_again(world: World) -> None:
    conversation = world.unanswered(HUMAN_AGENT_WINDOW + HOUR)
    assert world.run().lost == 1
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=world.now)
    assert world.run(HUMAN_AGENT_WINDOW).lost == 1
    assert WindowLoss.objects.filter(conversation=conversation).count() == 2


# --- The inbox ------------------------------------------------------------------------------


def test_the_window_closing_view_lists_flagged_conversations_with_the_time_left(
    world: World, web_client_for: Any
) -> None:
    flagged = world.unanswered(22 * HOUR + timedelta(minutes=30), name="Flagged Customer")
    world.unanswered(HOUR, name="Calm Customer")
    client = web_client_for(world.tenant.admin)
    body = client.get("/o/alpha/inbox/?window=closing").content.decode()
    assert "Flagged Customer" in body
    assert "Calm Customer" not in body
    assert "Window closing · 1 h" in body
    everything = client.get("/o/alpha/inbox/").content.decode()
    assert "Calm Customer" in everything and "Flagged Customer" in everything
    page = client.get(
        reverse("messenger:conversation", kwargs={"org_slug": "alpha", "conversation_id": flagged.pk})
    ).content.decode()
    assert "the 24-hour window closes in 1 h and the customer is unanswered" in page
    # The agent reads Japanese; their list shows the flag in it.
    client.logout()
    body = web_client_for(world.tenant.agent).get("/o/alpha/inbox/?window=closing").content.decode()
    assert "返信期限間近 · 残り1 時間" in body


def test_another_organizations_member_sees_nothing_of_it(world: World, tenant_b: Tenant, web_client_for: Any) -> None:
    flagged = world.unanswered(23 * HOUR, name="Flagged Customer")
    world.run()
    client = web_client_for(tenant_b.admin)
    body = client.get("/o/bravo/inbox/?window=closing").content.decode()
    assert "Flagged Customer" not in body
    assert client.get("/o/alpha/inbox/?window=closing").status_code == 404
    assert client.get(f"/o/bravo/inbox/{flagged.pk}/").status_code == 404
    assert not Notification.objects.filter(user=tenant_b.admin.user).exists()


# --- Settings -------------------------------------------------------------------------------


def _settings_form(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Alpha",
        "language": "en",
        "time_zone": "UTC",
        "unassigned_alert_minutes": 10,
        "response_window_alert_minutes": 120,
        "human_agent_window_alert_hours": 24,
        **changes,
    }


def test_admins_set_the_leads_with_form_errors_for_bad_values(world: World, web_client_for: Any) -> None:
    client = web_client_for(world.tenant.admin)
    url = "/o/alpha/settings/organization/"
    page = client.get(url).content.decode()
    assert 'name="response_window_alert_minutes"' in page and 'value="120"' in page
    for field, value in (
        ("response_window_alert_minutes", 0),
        ("response_window_alert_minutes", RESPONSE_WINDOW_ALERT_MAX_MINUTES + 1),
        ("human_agent_window_alert_hours", 0),
        ("human_agent_window_alert_hours", HUMAN_AGENT_WINDOW_ALERT_MAX_HOURS + 1),
    ):
        response = client.post(url, _settings_form(**{field: value}))
        assert response.status_code == 200
        assert field in response.context["form"].errors
    response = client.post(url, _settings_form(response_window_alert_minutes=45, human_agent_window_alert_hours=48))
    assert response.status_code == 302
    organization = Organization.objects.get(pk=world.tenant.organization.pk)
    assert (organization.response_window_alert_minutes, organization.human_agent_window_alert_hours) == (45, 48)


def test_agents_and_other_organizations_cannot_change_the_leads(
    world: World, tenant_b: Tenant, web_client_for: Any, client: Any
) -> None:
    url = "/o/alpha/settings/organization/"
    agent = web_client_for(world.tenant.agent)
    assert agent.post(url, _settings_form(response_window_alert_minutes=30)).status_code in (403, 404)
    client.logout()
    other = web_client_for(tenant_b.admin)
    assert other.post(url, _settings_form(response_window_alert_minutes=30)).status_code == 404
    assert Organization.objects.get(pk=world.tenant.organization.pk).response_window_alert_minutes == 120


def test_the_leads_bounds_stay_inside_the_windows_they_warn_of() -> None:
    assert timedelta(minutes=RESPONSE_WINDOW_ALERT_MAX_MINUTES) < STANDARD_WINDOW
    assert timedelta(hours=HUMAN_AGENT_WINDOW_ALERT_MAX_HOURS) <= HUMAN_AGENT_WINDOW - STANDARD_WINDOW


def test_a_run_costs_the_same_queries_for_many_conversations_as_for_few(
    world: World, django_assert_max_num_queries: Any
) -> None:
    """Set-based: a batch is told of in a fixed number of queries, not per conversation."""
    for n in range(3):
        world.unanswered(23 * HOUR, name=f"Few {n}", assignee=None if n % 2 else world.tenant.agent.user)
    with CaptureQueriesContext(connection) as few:
        assert world.run().alerted == 3
    for n in range(30):
        world.unanswered(
            23 * HOUR - timedelta(minutes=n), name=f"Many {n}", assignee=None if n % 2 else world.tenant.agent.user
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert world.run().alerted == 30


def test_the_api_lists_the_window_closing_conversations_of_its_organization_only(
    world: World, tenant_b: Tenant
) -> None:
    world.unanswered(23 * HOUR, name="Flagged Customer")
    world.unanswered(HOUR, name="Calm Customer")
    names = [
        row["contact"]["display_name"]
        for row in api_client_for(world.tenant.agent).get("/api/v1/conversations/?window=closing").json()["results"]
    ]
    assert names == ["Flagged Customer"]
    other = api_client_for(tenant_b.admin).get("/api/v1/conversations/?window=closing").json()["results"]
    assert other == []
