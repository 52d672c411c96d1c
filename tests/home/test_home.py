"""The home page: what needs the member now; for admins, channel health and today's volume."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels.models import Channel
from helpdesk.models import Membership, Role
from home import selectors
from messenger.models import Conversation, Direction, FacebookPage, PageStatus, ReauthorizationReason
from messenger.reply_window import reply_window
from tests import factories
from tests.conftest import Tenant
from tickets.models import Ticket, TicketOrigin

pytestmark = pytest.mark.django_db

HOME = "/o/alpha/"


@dataclass
class Desk:
    tenant: Tenant
    channel: Channel
    page: FacebookPage
    sales_channel: Channel
    sales_page: FacebookPage
    sales_agent: Membership

    def conversation(self, name: str, *, page: FacebookPage | None = None, **fields: Any) -> Conversation:
        page = page or self.page
        return factories.make_conversation(page, factories.make_contact(page, display_name=name), **fields)

    def ticket(self, conversation: Conversation, subject: str, **fields: Any) -> Ticket:
        message = factories.make_message(conversation, text=subject)
        return Ticket.objects.create(
            organization=conversation.organization,
            department=conversation.department,
            channel=conversation.channel,
            conversation=conversation,
            contact=conversation.contact,
            subject=subject,
            origin=TicketOrigin.MANUAL,
            first_message=message,
            last_message=message,
            **fields,
        )


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def desk(tenant_a: Tenant) -> Desk:
    organization = tenant_a.organization
    channel = factories.make_channel(organization, tenant_a.department, name="Support chat")
    factories.associate(tenant_a.agent, channel)
    sales = factories.make_department(organization, "Sales")
    sales_channel = factories.make_channel(organization, sales, name="Sales chat")
    sales_agent = factories.make_member(organization, username="alpha-sales", departments=[sales])
    factories.associate(sales_agent, sales_channel)
    return Desk(
        tenant_a,
        channel,
        factories.make_page(channel, name="Alpha Shop"),
        sales_channel,
        factories.make_page(sales_channel, name="Alpha Sales"),
        sales_agent,
    )


def _page(client: Any, membership: Membership) -> str:
    client.force_login(membership.user)
    response = client.get(HOME)
    assert response.status_code == 200
    return response.content.decode()


def _section(html: str, heading_id: str) -> str:
    """The HTML of one section of the page, found by its heading's id."""
    match = re.search(rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', html, re.S)
    assert match, heading_id
    return match.group(0)


# --- The agent's page --------------------------------------------------------------------------


def test_an_agent_sees_their_conversations_the_waiting_ones_and_their_tickets(desk: Desk, client: Any) -> None:
    agent = desk.tenant.agent
    mine = desk.conversation("Aiko Tanaka", assignee=agent.user)
    factories.make_message(mine, text="Where is my parcel?")
    waiting = desk.conversation("Ben Walker")
    factories.make_message(waiting, text="Hello?")
    held_by_admin = desk.conversation("Chika Mori", assignee=desk.tenant.admin.user)
    desk.ticket(mine, "Parcel lost", assignee=agent.user)
    desk.ticket(held_by_admin, "Refund", assignee=desk.tenant.admin.user)

    html = _page(client, agent)

    own = _section(html, "home-mine")
    assert "Aiko Tanaka" in own and "Ben Walker" not in own and "Chika Mori" not in own
    assert f'href="/o/alpha/inbox/{mine.pk}/"' in own
    assert 'href="/o/alpha/inbox/?view=mine&amp;state=open">All your open conversations</a>' in own
    unassigned = _section(html, "home-unassigned")
    assert "Ben Walker" in unassigned and "Aiko Tanaka" not in unassigned
    assert 'href="/o/alpha/inbox/?view=unassigned">All unassigned conversations</a>' in unassigned
    tickets = _section(html, "home-tickets")
    assert "Parcel lost" in tickets and "Refund" not in tickets
    assert 'href="/o/alpha/tickets/?state=open&amp;assignee=me">All your open tickets</a>' in tickets
    # An agent's page has no admin sections.
    assert 'id="home-channels"' not in html and 'id="home-today"' not in html


def test_the_home_link_leads_to_the_home_page_and_the_inbox_link_to_the_inbox(desk: Desk, client: Any) -> None:
    html = _page(client, desk.tenant.agent)
    assert re.search(r'<a class="nav-link active" href="/o/alpha/" aria-current="page">.*Home</a>', html)
    assert re.search(r'<a class="nav-link" href="/o/alpha/inbox/">.*Inbox</a>', html)
    assert client.get("/o/alpha/inbox/").status_code == 200
    # The page's structure: one main landmark, one h1, a heading per section.
    assert html.count("<main") == 1 and html.count("<h1") == 1
    main = html[html.index("<main") : html.index("</main>")]
    assert len(re.findall(r"<section [^>]*aria-labelledby=", main)) == main.count("<h2") == 4


def test_an_agent_of_another_channel_does_not_see_its_conversations_or_tickets(desk: Desk, client: Any) -> None:
    support = desk.conversation("Support customer")
    desk.ticket(desk.conversation("Support ticket customer"), "Support ticket", assignee=desk.sales_agent.user)
    sales = desk.conversation("Sales customer", page=desk.sales_page)
    factories.make_message(support, text="support question")
    factories.make_message(sales, text="sales question")

    sales_html = _page(client, desk.sales_agent)
    assert "Sales customer" in sales_html
    assert "Support customer" not in sales_html and "support question" not in sales_html
    # Even a ticket assigned to them stays hidden when its channel is not theirs.
    assert "Support ticket" not in sales_html
    assert ">0</span>" in _section(sales_html, "home-tickets")

    support_html = _page(client, desk.tenant.agent)
    assert "Support customer" in support_html and "Sales customer" not in support_html


def test_another_organizations_member_gets_404(desk: Desk, tenant_b: Tenant, client: Any) -> None:
    client.force_login(tenant_b.admin.user)
    assert client.get(HOME).status_code == 404


# --- Reply windows ---------------------------------------------------------------------------


def test_reply_windows_closing_soonest_come_first_with_their_time_left(desk: Desk, client: Any) -> None:
    agent = desk.tenant.agent
    now = timezone.now()
    rows = {
        "Standard, 1 h left": now - timedelta(hours=22, minutes=30),
        "Standard, 20 h left": now - timedelta(hours=3, minutes=30),
        "Human agent, 5 h left": now - timedelta(days=6, hours=18, minutes=30),
        "Human agent, 3 days left": now - timedelta(days=3, hours=12),
        "Closed window": now - timedelta(days=8),
    }
    for name, last_inbound_at in rows.items():
        desk.conversation(name, last_inbound_at=last_inbound_at, last_message_at=last_inbound_at)
    desk.conversation("Never wrote")
    soon = now - timedelta(hours=23, minutes=50)
    desk.conversation("Someone else's", assignee=desk.tenant.admin.user, last_inbound_at=soon)
    blocked_page = desk.page
    blocked = factories.make_contact(blocked_page, display_name="Blocked customer", is_blocked=True)
    factories.make_conversation(blocked_page, blocked, last_inbound_at=soon)
    desk.conversation("Closed conversation", state="closed", last_inbound_at=soon)

    section = _section(_page(client, agent), "home-closing")

    names = re.findall(r'<span class="hd-contact-name text-truncate">([^<]*)</span>', section)
    assert names == ["Standard, 1 h left", "Human agent, 5 h left", "Standard, 20 h left", "Human agent, 3 days left"]
    assert re.findall(r"(?:Reply|Human agent) window: [^<]* left", section) == [
        "Reply window: 1 h left",
        "Human agent window: 5 h left",
        "Reply window: 20 h left",
        "Human agent window: 3 days left",
    ]
    assert 'href="/o/alpha/inbox/?state=open">All open conversations</a>' in section


def test_the_soonest_closing_are_those_reply_window_would_pick_among_many(desk: Desk) -> None:
    """Two bounded reads (one per window) agree with asking reply_window about every conversation."""
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    rng = random.Random(14)
    for n in range(40):
        last_inbound_at = now - timedelta(minutes=rng.randint(-30, 9 * 24 * 60))
        desk.conversation(f"Customer {n}", last_inbound_at=last_inbound_at)
    organization, agent = desk.tenant.organization, desk.tenant.agent

    picked = selectors.conversations_closing_soonest(organization=organization, membership=agent, now=now, limit=7)

    windows = [(reply_window(c.last_inbound_at, now=now), c.pk) for c in Conversation.objects.all()]
    expected = sorted((window.remaining, pk) for window, pk in windows if window.is_open)[:7]
    assert [(row.window.remaining, row.conversation.pk) for row in picked] == expected


# --- The admin's page ---------------------------------------------------------------------------


def test_an_admin_also_sees_channel_health_and_todays_volume(desk: Desk, client: Any) -> None:
    FacebookPage.objects.filter(pk=desk.sales_page.pk).update(
        status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=ReauthorizationReason.TOKEN_EXPIRED
    )
    Channel.objects.filter(pk=desk.channel.pk).update(is_enabled=False)
    factories.make_channel(desk.tenant.organization, name="Deleted chat", is_enabled=False, deleted_at=timezone.now())
    conversation = desk.conversation("Today's customer")
    factories.make_message(conversation, text="one")
    factories.make_message(conversation, text="two")
    factories.make_message(conversation, text="our answer", direction=Direction.OUTBOUND)

    html = _page(client, desk.tenant.admin)

    health = _section(html, "home-channels")
    reauthorize = f'href="/o/alpha/settings/channels/{desk.sales_channel.pk}/">'
    assert reauthorize + "Re-authorize the page “Alpha Sales” of Sales chat</a>" in health
    assert f'href="/o/alpha/settings/channels/{desk.channel.pk}/">Support chat is disabled</a>' in health
    assert "Deleted chat" not in health
    today = _section(html, "home-today")
    assert '<dd class="fs-3 fw-semibold mb-0" data-testid="today-conversations">1</dd>' in today
    assert '<dd class="fs-3 fw-semibold mb-0" data-testid="today-messages">2</dd>' in today


def test_a_healthy_organization_says_so(desk: Desk, client: Any) -> None:
    assert "Every channel is enabled and its pages are authorized." in _page(client, desk.tenant.admin)


def test_today_starts_at_midnight_in_the_organizations_time_zone(desk: Desk) -> None:
    organization = desk.tenant.organization
    organization.time_zone = "Asia/Tokyo"
    organization.save(update_fields=["time_zone"])
    # 2026-12-06 01:30 in Tokyo; its day began at 2026-12-05 15:00 UTC.
    now = datetime(2026, 12, 5, 16, 30, tzinfo=UTC)
    conversation = desk.conversation("Tokyo customer")
    Conversation.objects.filter(pk=conversation.pk).update(created_at=datetime(2026, 12, 5, 15, 10, tzinfo=UTC))
    yesterday = desk.conversation("Yesterday's customer")
    Conversation.objects.filter(pk=yesterday.pk).update(created_at=datetime(2026, 12, 5, 14, 50, tzinfo=UTC))
    factories.make_message(conversation, text="after midnight", sent_at=datetime(2026, 12, 5, 15, 0, tzinfo=UTC))
    factories.make_message(conversation, text="before midnight", sent_at=datetime(2026, 12, 5, 14, 59, tzinfo=UTC))

    volume = selectors.today_volume(organization=organization, membership=desk.tenant.admin, now=now)

    assert volume.day_start == datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
    assert (volume.conversations_started, volume.messages_received) == (1, 1)


# --- Cost -----------------------------------------------------------------------------------------


def _fill(desk: Desk, count: int) -> None:
    admin = desk.tenant.admin.user
    now = timezone.now()
    for n in range(count):
        held = desk.conversation(f"Held {n}", assignee=admin, last_inbound_at=now - timedelta(hours=n))
        factories.make_message(held, text=f"held {n}")
        desk.ticket(held, f"Ticket {n}", assignee=admin)
        waiting = desk.conversation(f"Waiting {n}", page=desk.sales_page, last_inbound_at=now - timedelta(days=2))
        factories.make_message(waiting, text=f"waiting {n}")
        channel = factories.make_channel(desk.tenant.organization, is_enabled=False)
        factories.make_page(channel, status=PageStatus.REAUTHORIZATION_REQUIRED)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AGENT])
def test_the_page_costs_the_same_number_of_queries_whatever_the_data(desk: Desk, client: Any, role: str) -> None:
    membership = desk.tenant.admin if role == Role.ADMIN else desk.tenant.agent
    client.force_login(membership.user)
    _fill(desk, 1)
    client.get(HOME)  # the first visit of the organization also writes the session
    with CaptureQueriesContext(connection) as small:
        assert client.get(HOME).status_code == 200
    _fill(desk, 12)
    with CaptureQueriesContext(connection) as large:
        response = client.get(HOME)
    assert response.status_code == 200
    assert len(large) == len(small) <= 25, [query["sql"] for query in large.captured_queries]
    if role == Role.ADMIN:
        # Each section shows its first rows and the count of all of them.
        assert ">13</span>" in _section(response.content.decode(), "home-mine")
        assert response.content.decode().count('class="hd-contact-name') == 3 * selectors.SECTION_SIZE


def test_the_selectors_read_in_a_fixed_number_of_queries(desk: Desk, django_assert_max_num_queries: Any) -> None:
    _fill(desk, 8)
    with django_assert_max_num_queries(11):
        selectors.home_get(organization=desk.tenant.organization, membership=desk.tenant.admin)
    with django_assert_max_num_queries(7):
        selectors.home_get(organization=desk.tenant.organization, membership=desk.tenant.agent)


# --- Languages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        ("en", ["Your open conversations", "Reply windows closing soonest", "Channel health", "Today"]),
        ("ja", ["自分が担当するオープンな会話", "返信期限が近い会話", "チャネルの状態", "今日"]),
    ],
)
def test_the_page_renders_in_both_languages(desk: Desk, client: Any, language: str, texts: list[str]) -> None:
    organization = desk.tenant.organization
    organization.language = language
    organization.save(update_fields=["language"])
    now = timezone.now()
    desk.conversation("Aiko", last_inbound_at=now - timedelta(hours=2), assignee=desk.tenant.admin.user)

    html = _page(client, desk.tenant.admin)

    assert f'<html lang="{language}">' in html
    for text in texts:
        assert text in html, text
    if language == "ja":
        assert "Your open conversations" not in html


# --- Live: the parts drawn again on events -----------------------------------------------------


def test_the_counts_are_a_live_part_the_home_view_draws_alone_at_the_same_cost(desk: Desk, client: Any) -> None:
    client.force_login(desk.tenant.agent.user)
    _fill(desk, 2)
    page = client.get(HOME).content.decode()
    part = re.search(r'<div id="home-parts"[^>]*>', page)
    assert part is not None
    assert 'hx-trigger="live"' in part.group(0) and 'data-live="conversations tickets"' in part.group(0)
    assert f'hx-get="{HOME}?part=counts"' in part.group(0)
    with CaptureQueriesContext(connection) as whole:
        client.get(HOME)
    with CaptureQueriesContext(connection) as alone:
        response = client.get(HOME, {"part": "counts"})
    fragment = response.content.decode()
    assert response.status_code == 200
    assert fragment.lstrip().startswith('<div id="home-parts"') and "<html" not in fragment
    assert _section(fragment, "home-mine") == _section(page, "home-mine")
    assert len(alone) <= len(whole)


def test_the_counts_of_another_organization_are_404(desk: Desk, tenant_b: Tenant, client: Any) -> None:
    client.force_login(tenant_b.admin.user)
    assert client.get(HOME, {"part": "counts"}).status_code == 404
