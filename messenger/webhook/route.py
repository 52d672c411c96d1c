"""Routing: where each event of a POST goes, or why it goes nowhere.

An event is bound for the page it names. The page's *route* (its linking, channel,
department, organization and language) is read by one SQL fragment, `route_select`, that
both ways of storing a batch use: the step-by-step way (`routing_read`, then
`batch_route` in Python) and the one statement (`messenger.webhook.one_statement_sql`,
on PostgreSQL). The rules that decide from a route whether an event is ignored are
`ROUTING_RULES`, stated once here: `routing_reason` asks them in Python and
`routing_reason_sql` writes the same rules, in the same order, into SQL. Change a rule
there and both ways follow; tests/messenger/test_webhook_paths_agree.py proves that what is
stored does not depend on the way taken.

What a customer's message asks of the helpdesk is stated here too: a tap on a rating's
quick reply (`is_rating_answer`) is stored and shown but asks for nothing (the conversation
stays closed, nobody is waiting, nothing unread); `messages.message_new` asks it for both ways.

Within a POST, Facebook's time order decides (delivery order is not guaranteed), and of
several deliveries of one message the first in that order is the one stored
(`repeated_deliveries`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings

from channels.models import AssignmentMode, Channel
from helpdesk.models import Organization
from messenger.models import Contact, Conversation, FacebookPage, WebhookOutcome
from messenger.webhook import parsed, parsing
from messenger.webhook.outcomes import (
    REASON_CHANNEL_DELETED,
    REASON_CHANNEL_DISABLED,
    REASON_UNKNOWN_PAGE,
    Outcome,
)
from messenger.webhook.parsed import Content, ParsedEvent
from messenger.webhook.sql import column, connection_for, execute_prepared, literal, table

logger = logging.getLogger(__name__)

_CREATING_KINDS = frozenset({parsed.MESSAGE, parsed.POSTBACK, parsed.REFERRAL, parsed.OPTIN})


@dataclass(frozen=True, slots=True)
class Route:
    """Where a page's events go. Its fields are the columns of `route_select`, by name."""

    page_pk: int
    page_id: str
    organization_id: int
    channel_id: int
    department_id: int
    channel_enabled: bool
    channel_deleted: bool
    language: str
    assignment_on: bool  # the channel assigns new and reopened conversations by itself
    linked: bool = True  # a route is read only for a linked page: a missing route is not


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """Events bound for a page are ignored, with `reason`, when the route's `fact` (an
    attribute of Route and a column of `route_select`) is `when`. With no route at all,
    every fact is unknown: not true."""

    reason: str
    fact: str
    when: bool


# Asked in this order: the first rule that holds decides.
ROUTING_RULES = (
    RoutingRule(REASON_UNKNOWN_PAGE, "linked", False),
    RoutingRule(REASON_CHANNEL_DELETED, "channel_deleted", True),
    RoutingRule(REASON_CHANNEL_DISABLED, "channel_enabled", False),
)


def routing_reason(route: Route | None) -> str:
    """Why events bound for this route are ignored; '' when they go to a live channel."""
    for rule in ROUTING_RULES:
        if (getattr(route, rule.fact, None) is True) == rule.when:
            return rule.reason
    return ""


def routing_reason_sql(alias: str) -> str:
    """`routing_reason` as an SQL expression over the `route_select` columns of `alias`
    (NULL when the events go to a live channel)."""
    cases = " ".join(
        f"WHEN {alias}.{rule.fact} IS {'' if rule.when else 'NOT '}TRUE THEN {literal(rule.reason)}"
        for rule in ROUTING_RULES
    )
    return f"CASE {cases} END"


def route_select(where: str) -> str:
    """The SELECT that reads routes: the linked page whose page id satisfies `where` (SQL
    after `page_id`, e.g. "= v.page"), with its channel and organization, as the columns
    that Route names."""
    p = {name: column(FacebookPage, name) for name in ("id", "page_id", "organization", "channel", "unlinked_at")}
    ch = {name: column(Channel, name) for name in ("id", "department", "is_enabled", "deleted_at", "assignment_mode")}
    org_id, org_language = column(Organization, "id"), column(Organization, "language")
    # Table and column names come from the models; every value is a bound parameter.
    return (
        f"SELECT p.{p['id']} AS page_pk, p.{p['page_id']} AS page_id, "  # noqa: S608
        f"p.{p['organization']} AS organization_id, p.{p['channel']} AS channel_id, "
        f"c.{ch['department']} AS department_id, c.{ch['is_enabled']} AS channel_enabled, "
        f"c.{ch['deleted_at']} IS NOT NULL AS channel_deleted, o.{org_language} AS language, "
        f"c.{ch['assignment_mode']} <> {literal(AssignmentMode.OFF)} AS assignment_on, TRUE AS linked "
        f"FROM {table(FacebookPage)} p JOIN {table(Channel)} c ON c.{ch['id']} = p.{p['channel']} "
        f"JOIN {table(Organization)} o ON o.{org_id} = p.{p['organization']} "
        f"WHERE p.{p['page_id']} {where} AND p.{p['unlinked_at']} IS NULL"
    )


# --------------------------------------------------------------------------- reading routes and customers


@dataclass(slots=True)
class Customer:
    """A customer of a page as the helpdesk knows them: their contact, and their
    conversation on the page (None until one is created)."""

    contact_id: int
    page_pk: int
    psid: str
    is_blocked: bool
    conversation_id: int | None
    # The conversation's own channel and assignee (who is told of its changes: live.publish).
    channel_id: int | None = None
    assignee_id: int | None = None


@dataclass
class Routing:
    """What one read tells about a batch: each page's route, each known customer."""

    routes: dict[str, Route]
    customers: dict[tuple[int, str], Customer]


@lru_cache(maxsize=64)
def _routing_statement(alias: str, *, postgres: bool, customers: int, pages: int) -> str:
    """The text of `routing_read`'s query (for SQLite, per number of customers and pages)."""
    ct = {name: column(Contact, name) for name in ("id", "page", "psid", "is_blocked")}
    cv = {name: column(Conversation, name) for name in ("id", "page", "contact", "channel", "assignee")}
    customer_columns = (
        f"ct.{ct['id']}, ct.{ct['psid']}, ct.{ct['is_blocked']}, cv.{cv['id']}, cv.{cv['channel']}, cv.{cv['assignee']}"
    )
    conversation_join = (
        f"LEFT JOIN {table(Conversation)} cv ON cv.{cv['page']} = rt.page_pk AND cv.{cv['contact']} = ct.{ct['id']}"
    )
    if postgres:
        # Arrays keep the text the same for every batch (prepared once, planned generic), and
        # each (page, customer) pair is looked up by the contact's unique (page, psid) index:
        # never a filter over all of a page's contacts (OFFSET 0 keeps the planner from
        # turning the lookups into a join of the tables).
        return (
            f"SELECT rt.*, t.* FROM ({route_select('= ANY(%s::varchar[])')}) rt "  # noqa: S608
            f"LEFT JOIN LATERAL (SELECT {customer_columns} "
            f"FROM unnest(%s::varchar[], %s::varchar[]) AS w (page_id, psid) "
            f"JOIN {table(Contact)} ct ON ct.{ct['page']} = rt.page_pk AND ct.{ct['psid']} = w.psid "
            f"{conversation_join} WHERE w.page_id = rt.page_id OFFSET 0) t ON true"
        )
    customers_in = f"IN ({', '.join(['%s'] * customers)})" if customers else "IN (NULL)"
    pages_in = f"IN ({', '.join(['%s'] * pages)})"
    return (
        f"SELECT rt.*, {customer_columns} FROM ({route_select(pages_in)}) rt "  # noqa: S608
        f"LEFT JOIN {table(Contact)} ct ON ct.{ct['page']} = rt.page_pk AND ct.{ct['psid']} {customers_in} "
        f"{conversation_join}"
    )


# The columns of `route_select`, each a field of Route.
_ROUTE_WIDTH = len(fields(Route))


def routing_read(events: Sequence[ParsedEvent]) -> Routing:
    """The route of each page the events name, and the contact and conversation of each
    customer they name, in one query (nothing locked)."""
    page_ids = sorted({e.page_id for e in events if e.page_id})
    if not page_ids:
        return Routing({}, {})
    pairs = sorted({(e.page_id, e.customer_id) for e in events if e.customer_id and not e.ignored_reason})
    connection = connection_for(FacebookPage)
    if connection.vendor == "postgresql":
        statement = _routing_statement(connection.alias, postgres=True, customers=0, pages=0)
        params: list[Any] = [page_ids, [page for page, _ in pairs], [customer for _, customer in pairs]]
    else:
        customers = sorted({customer for _, customer in pairs})
        statement = _routing_statement(connection.alias, postgres=False, customers=len(customers), pages=len(page_ids))
        params = [*page_ids, *customers]
    with connection.cursor() as cursor:
        execute_prepared(connection, cursor, "messenger_webhook_routing", statement, params)
        rows = cursor.fetchall()
    routing = Routing({}, {})
    for row in rows:
        page_pk, page_id = row[0], row[1]
        if page_id not in routing.routes:
            routing.routes[page_id] = Route(
                page_pk=page_pk,
                page_id=page_id,
                organization_id=row[2],
                channel_id=row[3],
                department_id=row[4],
                channel_enabled=bool(row[5]),
                channel_deleted=bool(row[6]),
                language=row[7],
                assignment_on=bool(row[8]),
            )
        contact_id, psid, is_blocked, conversation_id, channel_id, assignee_id = row[_ROUTE_WIDTH:]
        if contact_id is not None:
            routing.customers[(page_pk, psid)] = Customer(
                contact_id=contact_id,
                page_pk=page_pk,
                psid=psid,
                is_blocked=bool(is_blocked),
                conversation_id=conversation_id,
                channel_id=channel_id,
                assignee_id=assignee_id,
            )
    return routing


# --------------------------------------------------------------------------- routing a batch


@dataclass(slots=True)
class RoutedEvent:
    """An event bound for a live channel, with its place in the POST."""

    index: int
    event: ParsedEvent
    route: Route


@dataclass
class RoutedBatch:
    """A batch routed: the outcome decided so far for each event (aligned with `events`),
    the events to apply in Facebook's time order, and the customers already known."""

    events: Sequence[ParsedEvent]
    outcomes: list[Outcome]
    routed: list[RoutedEvent]
    customers: dict[tuple[int, str], Customer]


def batch_route(events: Sequence[ParsedEvent], routing: Routing) -> RoutedBatch:
    outcomes = [Outcome() for _ in events]
    routed: list[RoutedEvent] = []
    for index, event in enumerate(events):
        route = routing.routes.get(event.page_id)
        outcome = outcomes[index]
        outcome.organization_id = route.organization_id if route else None
        if event.ignored_reason:
            outcome.set(WebhookOutcome.IGNORED, event.ignored_reason)
            log_if_unknown_kind(event)
        elif reason := routing_reason(route):
            outcome.set(WebhookOutcome.IGNORED, reason)
        else:
            assert route is not None
            routed.append(RoutedEvent(index, event, route))
    routed.sort(key=lambda item: in_time_order(item.index, item.event))
    return RoutedBatch(events, outcomes, routed, routing.customers)


def in_time_order(index: int, event: ParsedEvent) -> tuple[datetime, int, int]:
    """The sort key of an event of a batch: the POST it came in (POSTs joined into one batch
    apply in the order they arrived, as they would one by one), then Facebook's time, then its
    place in the batch."""
    return (event.received_at, event.timestamp_ms, index)


def repeated_deliveries(deliveries: Iterable[tuple[int, ParsedEvent, Any]]) -> set[int]:
    """Of (index, event, page) for the messages of a POST, the indexes of repeats: of the
    deliveries of one (page, mid), all but the first in time order."""
    seen: set[tuple[Any, str]] = set()
    repeats: set[int] = set()
    for index, event, page in sorted(deliveries, key=lambda d: in_time_order(d[0], d[1])):
        if (page, event.mid) in seen:
            repeats.add(index)
        seen.add((page, event.mid))
    return repeats


def log_if_unknown_kind(event: ParsedEvent) -> None:
    if event.ignored_reason == parsed.REASON_UNKNOWN_KIND:
        logger.warning(
            "webhook: unknown event kind on page %s (keys: %s)", event.page_id, parsing.unknown_keys(event.payload)
        )


def is_own_echo(event: ParsedEvent) -> bool:
    """An echo of a message this app sent (it confirms an outbound message instead of adding one)."""
    return (
        event.kind == parsed.ECHO
        and isinstance(event.detail, Content)
        and bool(event.detail.app_id)
        and event.detail.app_id == settings.FB_APP_ID
    )


# A tap on one of the quick replies of a rating's question (csat): `CSAT:<survey id>:<score>`.
RATING_PAYLOAD_PREFIX = "CSAT:"
RATING_PAYLOAD = re.compile(r"^CSAT:(\d{1,18}):([1-5])$")


def is_rating_answer(quick_reply_payload: str) -> bool:
    """A customer's message that answers a rating: it opens Messenger's reply window like any
    message of theirs, but asks for no answer, so it reopens nothing, starts no wait, counts
    as nothing unread and routes nothing (whether it names a survey that was asked is
    csat's to read after commit; the form alone decides here, without a query). A comment
    written after it is an ordinary message."""
    return RATING_PAYLOAD.match(quick_reply_payload or "") is not None


def creates_message(event: ParsedEvent) -> bool:
    return event.kind in _CREATING_KINDS or (event.kind == parsed.ECHO and not is_own_echo(event))
