"""Alerts: which events a member is told of, and which ways (their Preferences).

Events: a new conversation in the member's queue or views, a customer's message in a
conversation assigned to them, a mention of them in a note, a conversation left unassigned
longer than the organization's time (admins), a Messenger reply window about to close on a
customer nobody answered (its assignee, else its department's admins), an SLA target at risk
or breached (the same people). Ways: in the app (a Notification row, the
bell), a desktop notification and a sound (the page, helpdesk/static/helpdesk/alerts.js),
and email. One rule, one place: every writer of notices and emails asks `wanting` here.

Not every way exists for every event: a customer's message is a desktop or sound alert
only (no row, no email), a new conversation is in the app (no email).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from helpdesk.models import AlertPreferences, Membership, Notification, Organization

NEW_CONVERSATION = "new_conversation"
CUSTOMER_MESSAGE = "customer_message"
MENTION = "mention"
UNASSIGNED_TOO_LONG = "unassigned_too_long"
WINDOW_CLOSING = "window_closing"
SLA = "sla"
EVENTS = (NEW_CONVERSATION, CUSTOMER_MESSAGE, MENTION, UNASSIGNED_TOO_LONG, WINDOW_CLOSING, SLA)
# Only admins are told of conversations unassigned too long.
ADMIN_EVENTS = frozenset({UNASSIGNED_TOO_LONG})

IN_APP = "in_app"
DESKTOP = "desktop"
SOUND = "sound"
EMAIL = "email"
WAYS = (IN_APP, DESKTOP, SOUND, EMAIL)

# The event each kind of notification tells of; kinds not named here (a page's
# authorization, a conversation forwarded to the member) are always told.
EVENT_OF_KIND: dict[str, str] = {
    Notification.Kind.NEW_CONVERSATION: NEW_CONVERSATION,
    Notification.Kind.MENTION: MENTION,
    Notification.Kind.UNASSIGNED_TOO_LONG: UNASSIGNED_TOO_LONG,
    Notification.Kind.WINDOW_CLOSING: WINDOW_CLOSING,
    Notification.Kind.SLA_AT_RISK: SLA,
    Notification.Kind.SLA_BREACHED: SLA,
}

_DEFAULTS = AlertPreferences()


@dataclass(frozen=True)
class Choices:
    """A member's choices: the events and the ways they are alerted of them."""

    events: frozenset[str]
    ways: frozenset[str]

    def wants(self, event: str, way: str) -> bool:
        return event in self.events and way in self.ways


def _choices(row: AlertPreferences) -> Choices:
    return Choices(
        events=frozenset(event for event in EVENTS if getattr(row, event)),
        ways=frozenset(way for way in WAYS if getattr(row, way)),
    )


DEFAULT_CHOICES = _choices(_DEFAULTS)


def choices_of(membership: Membership) -> Choices:
    """The member's choices (the defaults until they saved some)."""
    row = AlertPreferences.objects.filter(membership=membership).first()
    return _choices(row) if row is not None else DEFAULT_CHOICES


def wanting(*, organization: Organization, user_ids: Iterable[int], event: str, way: str) -> set[int]:
    """Those of the users who want to be told of this event this way (one query)."""
    user_ids = set(user_ids)
    if not user_ids:
        return set()
    refusing = set(
        AlertPreferences.objects.filter(organization=organization, membership__user_id__in=user_ids)
        .exclude(**{event: True, way: True})
        .values_list("membership__user_id", flat=True)
    )
    return user_ids - refusing


def kind_wanted_in_app(*, organization: Organization, user_ids: Iterable[int], kind: str) -> set[int]:
    """Those of the users who want a notice of this kind in the app."""
    event = EVENT_OF_KIND.get(kind)
    if event is None:
        return set(user_ids)
    return wanting(organization=organization, user_ids=user_ids, event=event, way=IN_APP)
