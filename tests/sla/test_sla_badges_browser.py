# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""The SLA badges ("on track", "at risk", "breached" with the time left) and the reply
window's "Window closing" badge in a real browser, in English and in Japanese, as an agent
sees them after the minute's jobs ran: the inbox's rows and its "at risk", "breached" and
"window closing" filters, a conversation's page, the tickets list with its SLA filter and a
ticket's page; the inbox and the ticket page at a desktop's and a phone's width (axe).

The jobs run at a fixed ``now``; the pages read the clock when they answer, seconds later.
Every wait is half an hour away from a change of its rounded time ("8 h left" from 8 h 30
min), so the texts hold whatever the machine's speed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from helpdesk import datetimes
from helpdesk.models import Membership, Notification
from messenger.models import Conversation, ConversationSla, Direction
from messenger.services.sla import conversations_sla_sweep
from messenger.services.window_alerts import window_alerts_send
from sla.models import SlaClock
from sla.state import SlaStatus
from tests import factories
from tests.accessibility.test_axe import log_in
from tests.chromium import BROWSER_MARKS, chromium, new_page  # noqa: F401 (fixtures)
from tests.screens import screens_checked, translated
from tests.sla.conftest import TOKYO, Desk
from tickets.models import Ticket, TicketOrigin
from tickets.services_sla import tickets_sla_sweep

pytestmark = BROWSER_MARKS

INBOX = "/o/alpha/inbox/"
TICKETS = "/o/alpha/tickets/"
HOUR = timedelta(hours=1)
HALF_HOUR = timedelta(minutes=30)

# The contacts of the inbox: whose customer waits for which answer.
ON_TRACK = "Haruto Ito"  # first message 1 h 30 ago: first response due in 8 h 30
AT_RISK = "Yui Kato"  # 8 h 30 ago: due in 1 h 30, past its last fifth
BREACHED = "Ren Suzuki"  # 11 h 30 ago: 1 h 30 overdue
CLOSING = "Mio Tanaka"  # answered once, wrote again 22 h 30 ago: the 24-hour window closes in 1 h 30
ANSWERED = "Sora Abe"  # answered: nothing runs
WAITING = (ON_TRACK, AT_RISK, BREACHED, CLOSING)

# The tickets, each on a conversation of its own (answered): their resolution target of 24 h.
TICKET_ON_TRACK = "Invoice address"  # made 2 h 30 ago: due in 21 h 30
TICKET_AT_RISK = "Refund for a broken lamp"  # 21 h 30 ago: due in 2 h 30
TICKET_BREACHED = "Parcel never arrived"  # 26 h 30 ago: 2 h 30 overdue


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Scene:
    conversations: dict[str, Conversation]
    tickets: dict[str, Ticket]


def _conversation(
    desk: Desk, name: str, *, wrote: datetime, text: str, answered: datetime | None = None
) -> Conversation:
    """A customer's conversation: they wrote at ``wrote`` (and wait) unless an agent answered after."""
    conversation = factories.make_conversation(desk.page, factories.make_contact(desk.page, display_name=name))
    factories.make_message(conversation, text=text, sent_at=wrote)
    waiting = answered is None or answered < wrote
    Conversation.objects.filter(pk=conversation.pk).update(
        waiting_since=wrote if waiting else None, first_answered_at=answered
    )
    conversation.refresh_from_db()
    return conversation


def _ticket(desk: Desk, subject: str, *, created_at: datetime, name: str) -> Ticket:
    conversation = _conversation(desk, name, wrote=created_at - HOUR, text=subject, answered=created_at - HALF_HOUR)
    message = conversation.messages.get()
    return Ticket.objects.create(
        organization=conversation.organization,
        department=conversation.department,
        channel=conversation.channel,
        conversation=conversation,
        contact=conversation.contact,
        origin=TicketOrigin.MANUAL,
        first_message=message,
        last_message=message,
        subject=subject,
        created_at=created_at,
        created_by=desk.tenant.admin.user,
    )


def _scene(desk: Desk, *, now: datetime) -> Scene:
    """The policy, the conversations and tickets, and the minute's three jobs run at ``now``."""
    desk.policy(
        clock=SlaClock.WALL_CLOCK,
        first_response_minutes=10 * 60,
        next_response_minutes=24 * 60,
        resolution_minutes=24 * 60,
    )
    conversations = {
        ON_TRACK: _conversation(desk, ON_TRACK, wrote=now - HOUR - HALF_HOUR, text="Do you ship to Osaka?"),
        AT_RISK: _conversation(desk, AT_RISK, wrote=now - 8 * HOUR - HALF_HOUR, text="My order is late"),
        BREACHED: _conversation(desk, BREACHED, wrote=now - 11 * HOUR - HALF_HOUR, text="The box was empty"),
        CLOSING: _conversation(
            desk, CLOSING, wrote=now - 22 * HOUR - HALF_HOUR, text="Still no answer?", answered=now - 23 * HOUR
        ),
        ANSWERED: _conversation(desk, ANSWERED, wrote=now - 3 * HOUR, text="Thanks!", answered=now - 2 * HOUR),
    }
    factories.make_message(
        conversations[ANSWERED], text="You are welcome", direction=Direction.OUTBOUND, sent_at=now - 2 * HOUR
    )
    tickets = {
        TICKET_ON_TRACK: _ticket(desk, TICKET_ON_TRACK, created_at=now - 2 * HOUR - HALF_HOUR, name="Kenta Mori"),
        TICKET_AT_RISK: _ticket(desk, TICKET_AT_RISK, created_at=now - 21 * HOUR - HALF_HOUR, name="Aoi Sato"),
        TICKET_BREACHED: _ticket(desk, TICKET_BREACHED, created_at=now - 26 * HOUR - HALF_HOUR, name="Riku Kondo"),
    }

    # The minute's jobs, as the beat runs them: every wait timed, each warned or marked once.
    conversation_sweep = conversations_sla_sweep(now=now)
    assert (conversation_sweep.timed, conversation_sweep.warned, conversation_sweep.breached) == (4, 2, 1)
    ticket_sweep = tickets_sla_sweep(now=now)
    assert (ticket_sweep.timed, ticket_sweep.warned, ticket_sweep.breached) == (3, 1, 1)
    assert window_alerts_send(now=now).alerted == 1
    # Nobody holds them: the department's admin is told of what is at risk and of the closing window
    # (the breaches fell due over an hour before the first run: marked, nobody flooded).
    kinds = sorted(Notification.objects.filter(user=desk.tenant.admin.user).values_list("kind", flat=True))
    assert kinds == sorted([Notification.Kind.SLA_AT_RISK] * 3 + [Notification.Kind.WINDOW_CLOSING]), kinds
    return Scene(conversations, tickets)


def _hours(language: str, count: int) -> str:
    return translated(language, "%(count)d h", count=count)


def _left(language: str, hours: int) -> str:
    return translated(language, "%(duration)s left", duration=_hours(language, hours))


def _overdue(language: str, hours: int) -> str:
    return translated(language, "%(duration)s overdue", duration=_hours(language, hours))


# The badges' words by state, in the language of the page.
STATUS = {SlaStatus.ON_TRACK: "On track", SlaStatus.AT_RISK: "At risk", SlaStatus.BREACHED: "Breached"}


@dataclass(frozen=True)
class Expected:
    """A badge as the agent should find it: its state and rounded time, and the target."""

    status: SlaStatus
    time: str
    target: str
    due_at: datetime

    def shown(self, language: str) -> str:
        """The words on the badge: "At risk · 1 h left"."""
        return translated(
            language, "%(status)s · %(time)s", status=translated(language, STATUS[self.status]), time=self.time
        )

    def spoken(self, language: str) -> str:
        """What a screen reader says instead: the target, its state and time, and when it falls due."""
        with translation.override(language), timezone.override(TOKYO):
            when = datetimes.datetime_text(self.due_at)
        return translated(
            language,
            "%(target)s: %(status)s, %(time)s, due %(when)s",
            target=translated(language, self.target),
            status=translated(language, STATUS[self.status]),
            time=self.time,
            when=when,
        )


# Its words for the eye (the visually hidden ones left out) and what a screen reader reads of
# it (the accessibility tree: aria-hidden words left out).
SHOWN = (
    "e => { const c = e.cloneNode(true); c.querySelectorAll('.visually-hidden').forEach(h => h.remove());"
    " return c.textContent.replace(/\\s+/g, ' ').trim(); }"
)


def _shown(badge: Any) -> str:
    return badge.evaluate(SHOWN)


def _spoken(badge: Any) -> str:
    snapshot = badge.aria_snapshot().strip()
    assert snapshot.startswith("- text: "), snapshot
    return snapshot.removeprefix("- text: ").strip('"')


def _badge_checked(badge: Any, expected: Expected, language: str) -> None:
    assert badge.count() == 1
    assert f"hd-sla-{expected.status}" in badge.evaluate("e => e.className").split()
    assert _shown(badge) == expected.shown(language)
    assert _spoken(badge) == expected.spoken(language)
    assert badge.get_attribute("title") == expected.spoken(language)


def _row(page: Any, name: str) -> Any:
    return page.locator(".hd-conversation-row", has=page.locator(".hd-contact-name", has_text=name))


def _names(page: Any) -> list[str]:
    return page.locator(".hd-conversation-row .hd-contact-name").all_inner_texts()


def _filtered(page: Any, menu: str, value: str) -> str:
    """Choose in one of the inbox's menus (the form is sent at once, a new page answers); the
    words of the choice it shows."""
    with page.expect_navigation():
        page.select_option(menu, value)
    assert page.locator(menu).input_value() == value
    return page.locator(f"{menu} option:checked").inner_text()


def _subjects(page: Any) -> Any:
    return page.locator("#ticket-results tbody tr td:nth-child(2) > a")


@pytest.mark.parametrize("language", ["en", "ja"])
def test_an_agent_sees_each_sla_state_and_closing_window_and_filters_by_them(
    chromium: Any, live_server: Any, desk: Desk, language: str
) -> None:
    now = timezone.now()
    scene = _scene(desk, now=now)
    due = {
        name: ConversationSla.objects.get(conversation=row).due_at
        for name, row in scene.conversations.items()
        if name in WAITING
    }
    conversation_badges = {
        ON_TRACK: Expected(SlaStatus.ON_TRACK, _left(language, 8), "First response", due[ON_TRACK]),
        AT_RISK: Expected(SlaStatus.AT_RISK, _left(language, 1), "First response", due[AT_RISK]),
        BREACHED: Expected(SlaStatus.BREACHED, _overdue(language, 1), "First response", due[BREACHED]),
        # Answered once: the next response target, at risk too.
        CLOSING: Expected(SlaStatus.AT_RISK, _left(language, 1), "Next response", due[CLOSING]),
    }
    tickets = {subject: Ticket.objects.get(pk=ticket.pk) for subject, ticket in scene.tickets.items()}
    ticket_badges = {
        TICKET_ON_TRACK: Expected(
            SlaStatus.ON_TRACK, _left(language, 21), "Resolution", tickets[TICKET_ON_TRACK].sla_due_at
        ),
        TICKET_AT_RISK: Expected(
            SlaStatus.AT_RISK, _left(language, 2), "Resolution", tickets[TICKET_AT_RISK].sla_due_at
        ),
        TICKET_BREACHED: Expected(
            SlaStatus.BREACHED, _overdue(language, 2), "Resolution", tickets[TICKET_BREACHED].sla_due_at
        ),
    }
    Membership.objects.filter(pk=desk.tenant.agent.pk).update(language=language)
    page = new_page(chromium, viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, desk.tenant.agent)

    # The inbox: every conversation; a badge on each running wait, nothing on the answered ones.
    page.get_by_role("navigation", name=translated(language, "Main navigation")).get_by_role(
        "link", name=translated(language, "Inbox")
    ).click()
    page.wait_for_url(f"**{INBOX}")
    assert len(_names(page)) == 8
    for name, expected in conversation_badges.items():
        _badge_checked(_row(page, name).locator(".hd-sla"), expected, language)
    assert page.locator(".hd-conversation-row .hd-sla").count() == len(conversation_badges)
    closing = _row(page, CLOSING).locator(".hd-window-closing")
    assert _shown(closing) == translated(language, "Window closing · %(left)s", left=_hours(language, 1))
    closing_words = translated(
        language,
        "Window closing: the 24-hour window closes in %(left)s and the customer is unanswered",
        left=_hours(language, 1),
    )
    assert _spoken(closing) == closing_words
    assert page.locator(".hd-conversation-row .hd-window-closing").count() == 1
    screens_checked(page, f"sla-inbox-{language}")

    # The filters: at risk, breached, window closing; each leaves only its rows.
    assert _filtered(page, "#inbox-sla", "at_risk") == translated(language, "SLA at risk")
    assert sorted(_names(page)) == sorted([AT_RISK, CLOSING])
    assert _filtered(page, "#inbox-sla", "breached") == translated(language, "SLA breached")
    assert _names(page) == [BREACHED]
    _filtered(page, "#inbox-sla", "")
    assert len(_names(page)) == 8
    assert _filtered(page, "#inbox-window", "closing") == translated(language, "Window closing")
    assert _names(page) == [CLOSING]

    # Its page: the next response's badge, and the window closing beside the composer.
    _row(page, CLOSING).locator("a").click()
    page.wait_for_url(f"**{INBOX}{scene.conversations[CLOSING].pk}/*")
    _badge_checked(page.locator("#conversation-status .hd-sla"), conversation_badges[CLOSING], language)
    closing = page.locator("#reply-window .hd-window-closing")
    assert _shown(closing) == translated(language, "Window closing · %(left)s", left=_hours(language, 1))
    assert _spoken(closing) == closing_words

    # The tickets: the resolution target of each, and the SLA filter.
    page.get_by_role("navigation", name=translated(language, "Main navigation")).get_by_role(
        "link", name=translated(language, "Tickets")
    ).click()
    page.wait_for_url(f"**{TICKETS}")
    assert sorted(_subjects(page).all_inner_texts()) == sorted(ticket_badges)
    rows = page.locator("#ticket-results tbody tr")
    for subject, expected in ticket_badges.items():
        _badge_checked(rows.filter(has_text=subject).locator(".hd-sla"), expected, language)
    # The list is swapped in place (htmx) and its address kept in the history.
    page.select_option("#id_sla", "breached")
    page.wait_for_url("**sla=breached*")
    expect(_subjects(page)).to_have_text([TICKET_BREACHED])
    page.select_option("#id_sla", "at_risk")
    page.wait_for_url("**sla=at_risk*")
    expect(_subjects(page)).to_have_text([TICKET_AT_RISK])
    assert page.locator("#id_sla option:checked").inner_text() == translated(language, "SLA at risk")

    page.get_by_role("link", name=TICKET_AT_RISK).click()
    page.wait_for_url(f"**{TICKETS}{scene.tickets[TICKET_AT_RISK].pk}/")
    _badge_checked(page.locator("main .hd-sla"), ticket_badges[TICKET_AT_RISK], language)
    screens_checked(page, f"sla-ticket-{language}")
