"""The one statement: a POST whose events are messages in conversations that already exist,
routed, stored and logged by a single round trip to PostgreSQL (messenger.webhook.one_statement
prepares the rows; this module is the statement).

The batch travels as one JSON document (one row per event, in arrival order), so that the
statement's text never depends on the batch: it is prepared once per connection and takes
one parameter, cheap to send and to parse.

    WITH v AS (json_to_recordset of the events),
         r AS (each event with its route (route.route_select, the same SELECT the step-by-step
               way reads routes with), the routing rules' verdict (route.routing_reason_sql)
               and the customer's contact and conversation — read, not locked),
         ok AS (every message bound for a live channel has its conversation),
         ins AS (INSERT INTO message … ON CONFLICT DO NOTHING RETURNING, only when ok),
         agg AS (per conversation, over the rows really inserted: latest time and preview,
                 last customer message, how many the customer wrote),
         locked (the conversations, in id order, with their figures from agg),
         bump AS (UPDATE conversation from the locked row RETURNING its old state,
              with conversations.conversation_bump_assignments),
         reopened AS (INSERT INTO conversationevent for the conversations that were closed,
                      RETURNING their ids),
         decided AS (each event's outcome and reason: ignored as parsed, the routing verdict,
                     stored or duplicate with outcomes.message_reason_sql),
         log AS (INSERT INTO webhookevent … the decided outcomes, only when ok)
    SELECT ok, then each event's outcome

When a message's conversation does not exist yet (a new customer), the statement writes
nothing and says so: the batch is then applied step by step (messenger.webhook.apply), which
creates contacts and conversations. Previews that depend on the organization's language (a
photo, a sticker) travel in every language the product speaks; the statement picks the
organization's. Messages are inserted in (page, mid) order and conversations locked in id
order, so that concurrent POSTs queue instead of deadlocking.
"""

# Every name in the statement comes from the models and every value is a bound parameter:
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from messenger.models import (
    Contact,
    Conversation,
    ConversationEvent,
    ConversationState,
    Message,
    WebhookEvent,
    WebhookOutcome,
)
from messenger.webhook.conversations import conversation_bump_assignments
from messenger.webhook.messages import EVENT_COLUMNS
from messenger.webhook.outcomes import message_reason_sql
from messenger.webhook.route import route_select, routing_reason_sql
from messenger.webhook.sql import (
    column_of,
    connection_for,
    execute_prepared,
    insertable_fields,
    literal,
    prepare,
    value_preparers,
)

STATEMENT_NAME = "messenger_webhook_one_statement"

# The keys of an event's row in the JSON document, with their SQL types.
EVENT_FIELDS = (
    ("page", "text"),  # the page id as Facebook sends it
    ("customer", "text"),
    ("event_kind", "text"),  # the event's kind (event log)
    ("mid", "text"),
    ("payload", "jsonb"),
    ("ord", "integer"),  # its place in the POST
    ("outcome", "text"),  # decided already (ignored as parsed), else null
    ("reason", "text"),
    ("creates", "boolean"),  # a message to store
    ("again", "boolean"),  # the same (page, mid) earlier in this POST (route.repeated_deliveries)
    ("capped", "boolean"),  # some of its files are over the caps (outcomes.message_reason)
    ("standby", "boolean"),  # it came in an entry's standby list
)
# Message columns given per event (the others take one value for the whole batch); the mid
# travels as an event field. Every row has received_at (when its POST arrived; a batch may join
# several POSTs), which the event log takes too.
MESSAGE_FIELDS = tuple(name for name in EVENT_COLUMNS if name != "mid")
# Extra per-message values: the preview (or, when it depends on the language, one per
# language), whether the customer wrote it (unread, reply window, reopening), whether it is
# inbound (a blocked customer's inbound messages are stored hidden).
PREVIEW, PREVIEWS, COUNTS, INBOUND, ANSWERS = "preview", "previews", "counts", "inbound", "answers"
# Whether it opens Messenger's reply window (the customer's; a rating's answer too, which does
# not count: route.is_rating_answer).
WINDOW = "window"
MESSAGE_EXTRA = (
    (PREVIEW, "text"),
    (PREVIEWS, "jsonb"),
    (COUNTS, "boolean"),
    (INBOUND, "boolean"),
    (ANSWERS, "boolean"),
    (WINDOW, "boolean"),
)


@dataclass(frozen=True, slots=True)
class Decided:
    """What became of one event of the batch."""

    outcome: str
    reason: str
    organization_id: int | None
    message_id: int | None  # the message this event inserted
    conversation_id: int | None
    channel_id: int | None  # of its page's route
    department_id: int | None
    assignment_on: bool | None  # its channel assigns conversations by itself
    customer_wrote: bool  # a message the customer wrote, stored and shown
    sent_at: datetime | None
    reopened: bool  # its conversation was closed and the customer reopened it
    shown: bool  # it inserted a message shown in its conversation (not a blocked customer's)
    conversation_channel_id: int | None  # the conversation's own channel and assignee, when it
    assignee_id: int | None  # was updated (who is told of the change: live.publish)


# The statement of each database, and what each placeholder after the document stands for:
# a column that takes one value for the whole batch (with its value preparer), or None for
# the batch's clock.
Slot = tuple[Any, Any] | None
_statements: dict[str, tuple[str, list[Slot]]] = {}


def _statement(connection: BaseDatabaseWrapper) -> tuple[str, list[Slot]]:
    if connection.alias in _statements:
        return _statements[connection.alias]
    q = connection.ops.quote_name
    slots: list[Slot] = []

    def col(model: Any, name: str) -> str:
        return q(column_of(model._meta.get_field(name)))

    def tbl(model: Any) -> str:
        return q(model._meta.db_table)

    def constant(model: Any, field: Any) -> str:
        preparers = dict(zip((f.attname for f in insertable_fields(model)), value_preparers(model), strict=True))
        slots.append((field, preparers[field.attname]))
        return f"%s::{field.db_type(connection)}"

    def now() -> str:
        slots.append(None)
        return "%s"

    message_types = {f.attname: f.db_type(connection) for f in insertable_fields(Message)}
    record = ", ".join(
        f"{q(name)} {sql_type}"
        for name, sql_type in [
            *EVENT_FIELDS,
            *((name, message_types[name]) for name in MESSAGE_FIELDS),
            *MESSAGE_EXTRA,
        ]
    )
    contact, conversation = tbl(Contact), tbl(Conversation)
    live = "r.routing_reason IS NULL"
    # Each event with its route and customer (nothing locked: the page's and channel's state
    # as of this statement, as the step-by-step way reads them). Looked up event by event
    # through the unique indexes whatever the batch's size: the statement is planned once,
    # without knowing it, and LIMIT 1 keeps the planner from turning a lookup into a join.
    resolved = (
        # One route per page the POST names (a POST names few pages, many events).
        f"routes AS (SELECT w.page AS wanted, rt.* FROM (SELECT DISTINCT page FROM v) w "
        f"LEFT JOIN LATERAL ({route_select('= w.page')} LIMIT 1) rt ON true), "
        f"r AS (SELECT v.*, rt.page_pk, rt.organization_id, rt.channel_id, rt.department_id, rt.assignment_on, "
        f"{routing_reason_sql('rt')} AS routing_reason, "
        f"COALESCE(v.{q(PREVIEW)}, v.{q(PREVIEWS)} ->> rt.language, v.{q(PREVIEWS)} ->> 'en', '') AS the_preview, "
        f"(v.{q(INBOUND)} AND th.is_blocked) IS TRUE AS hidden, th.conversation_id "
        f"FROM v JOIN routes rt ON rt.wanted = v.page "
        f"LEFT JOIN LATERAL (SELECT ct.{col(Contact, 'is_blocked')} AS is_blocked, "
        f"cv.{col(Conversation, 'id')} AS conversation_id FROM {contact} ct "
        f"LEFT JOIN {conversation} cv ON cv.{col(Conversation, 'page')} = ct.{col(Contact, 'page')} "
        f"AND cv.{col(Conversation, 'contact')} = ct.{col(Contact, 'id')} "
        f"WHERE v.creates AND ct.{col(Contact, 'page')} = rt.page_pk AND ct.{col(Contact, 'psid')} = v.customer "
        f"LIMIT 1) th ON true)"
    )

    def values(model: Any, given: dict[str, str]) -> str:
        """Every insertable column of `model`: the SQL `given` for it, else one value for the batch."""
        return ", ".join(
            given[field.attname] if field.attname in given else constant(model, field)
            for field in insertable_fields(model)
        )

    # Messages: the per-event columns from the rows, the route's from `r`, the rest constant.
    message_values = values(
        Message,
        {
            **{name: f"r.{q(name)}" for name in MESSAGE_FIELDS},
            "organization_id": "r.organization_id",
            "conversation_id": "r.conversation_id",
            "page_id": "r.page_pk",
            "mid": "r.mid",
            "is_hidden": "r.hidden",
        },
    )
    m_columns = ", ".join(q(column_of(f)) for f in insertable_fields(Message))
    m_id, m_page, m_mid = col(Message, "id"), col(Message, "page"), col(Message, "mid")
    c_id, c_state = col(Conversation, "id"), col(Conversation, "state")
    c_organization = col(Conversation, "organization")
    c_channel, c_assignee = col(Conversation, "channel"), col(Conversation, "assignee")
    ce_columns = ", ".join(
        col(ConversationEvent, name) for name in ("organization", "conversation", "kind", "actor", "data", "created_at")
    )
    ignored, stored, duplicate = (
        literal(WebhookOutcome.IGNORED),
        literal(WebhookOutcome.STORED),
        literal(WebhookOutcome.DUPLICATE),
    )
    parts = [
        f"WITH v AS (SELECT * FROM json_to_recordset(%s::json) AS v ({record})), ",
        resolved + ", ",
        f"ok AS (SELECT COALESCE(bool_and(r.conversation_id IS NOT NULL), true) AS ok FROM r "
        f"WHERE r.creates AND {live}), ",
        f"ins AS (INSERT INTO {tbl(Message)} ({m_columns}) SELECT {message_values} "
        f"FROM r WHERE r.creates AND NOT r.again AND {live} AND r.conversation_id IS NOT NULL "
        f"AND (SELECT ok FROM ok) ORDER BY r.page_pk, r.mid ON CONFLICT DO NOTHING "
        f"RETURNING {m_id} AS id, {m_page} AS page_pk, {m_mid} AS mid), ",
        f"mine AS (SELECT r.*, ins.id AS message_id, max(r.sent_at) FILTER (WHERE r.{q(ANSWERS)}) "
        "OVER (PARTITION BY r.conversation_id) AS batch_answered FROM r JOIN ins ON ins.page_pk = r.page_pk "
        "AND ins.mid = r.mid WHERE NOT r.again), ",
        f"agg AS (SELECT conversation_id AS id, max(sent_at) AS last_at, "
        f"(array_agg(the_preview ORDER BY sent_at DESC, ord DESC))[1] AS preview, "
        f"max(sent_at) FILTER (WHERE {q(WINDOW)}) AS last_in, max(sent_at) FILTER (WHERE {q(COUNTS)}) AS last_wrote, "
        f"count(*) FILTER (WHERE {q(COUNTS)}) AS wrote, "
        f"min(sent_at) FILTER (WHERE {q(COUNTS)}) AS first_in, max(sent_at) FILTER (WHERE {q(ANSWERS)}) AS answered, "
        f"bool_or(assignment_on) AS assign_on, "
        f"min(sent_at) FILTER (WHERE {q(COUNTS)} AND (batch_answered IS NULL OR sent_at > batch_answered)) "
        f"AS waits_from "
        f"FROM mine WHERE NOT hidden GROUP BY conversation_id), ",
        # Locked once, in id order, before the update reads them (a CTE runs once); each row
        # carries its batch's figures, so that the update joins the conversation by its key
        # only (CTEs are estimated at one row: a join of two would be a nested loop, n²).
        f"locked AS (SELECT a.*, lc.{c_state} AS old_state FROM agg a JOIN {tbl(Conversation)} lc "
        f"ON lc.{c_id} = a.id ORDER BY lc.{c_id} FOR UPDATE OF lc), ",
        f"bump AS (UPDATE {tbl(Conversation)} AS c SET {conversation_bump_assignments(q, 'c', 'a')} ",
    ]
    slots.append(None)  # the SET clause's updated_at
    parts += [
        f"FROM locked a WHERE c.{c_id} = a.id "
        f"RETURNING c.{c_id} AS id, c.{c_organization} AS organization_id, a.old_state, a.wrote AS wrote, "
        f"c.{c_channel} AS channel_id, c.{c_assignee} AS assignee_id), ",
        f"reopened AS (INSERT INTO {tbl(ConversationEvent)} ({ce_columns}) "
        f"SELECT organization_id, id, {literal(ConversationEvent.Kind.REOPENED)}, NULL, '{{}}'::jsonb, {now()} "
        f"FROM bump WHERE old_state = {literal(ConversationState.CLOSED)} AND wrote > 0 "
        f"RETURNING {col(ConversationEvent, 'conversation')} AS id), ",
        # The routing rules' verdict, then what the insert did (outcomes.message_reason).
        f"decided AS (SELECT r.ord, r.organization_id, mine.message_id, r.conversation_id, r.channel_id, "
        f"r.department_id, "
        f"r.assignment_on, (mine.message_id IS NOT NULL AND NOT r.hidden AND r.{q(COUNTS)}) AS wrote, r.sent_at, "
        "(mine.message_id IS NOT NULL AND NOT r.hidden) AS shown, "
        f"CASE WHEN r.outcome IS NOT NULL THEN r.outcome WHEN NOT ({live}) THEN {ignored} "
        f"WHEN mine.message_id IS NOT NULL THEN {stored} ELSE {duplicate} END AS outcome, "
        f"CASE WHEN r.outcome IS NOT NULL THEN r.reason WHEN NOT ({live}) THEN r.routing_reason ELSE "
        + message_reason_sql(
            {"hidden": "mine.message_id IS NOT NULL AND r.hidden", "capped": "r.capped", "standby": "r.standby"}
        )
        + " END AS reason, "
        "left(r.page, 40) AS page, r.event_kind, left(r.mid, 255) AS mid, r.payload, r.received_at "
        "FROM r LEFT JOIN mine ON NOT r.again AND mine.ord = r.ord), ",
    ]
    event_values = values(
        WebhookEvent,
        {
            "organization_id": "d.organization_id",
            "page_id": "d.page",
            "kind": "d.event_kind",
            "mid": "d.mid",
            "payload": "d.payload",
            "outcome": "d.outcome",
            "reason": "d.reason",
            "received_at": "d.received_at",
        },
    )
    e_columns = ", ".join(q(column_of(f)) for f in insertable_fields(WebhookEvent))
    parts += [
        f"log AS (INSERT INTO {tbl(WebhookEvent)} ({e_columns}) SELECT {event_values} "
        f"FROM decided d WHERE (SELECT ok FROM ok) ORDER BY d.ord) ",
        "SELECT ok.ok, d.ord, d.outcome, d.reason, d.organization_id, d.message_id, d.conversation_id, "
        "d.channel_id, d.department_id, d.assignment_on, d.wrote, d.sent_at, "
        "d.conversation_id IN (SELECT id FROM reopened), d.shown, b.channel_id, b.assignee_id "
        "FROM ok LEFT JOIN decided d ON ok.ok LEFT JOIN bump b ON b.id = d.conversation_id ORDER BY d.ord",
    ]
    _statements[connection.alias] = ("".join(parts), slots)
    return _statements[connection.alias]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()  # to the microsecond, with its offset
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


def rows_document(rows: Sequence[dict[str, Any]]) -> str:
    """The batch as the statement's one JSON parameter. orjson writes it an order of magnitude
    faster (datetimes to the microsecond with their offset, as isoformat does); the standard
    encoder takes what orjson refuses (an integer beyond 64 bits in a payload)."""
    try:
        return orjson.dumps(rows).decode()
    except orjson.JSONEncodeError:
        return _encoder.encode(rows)


def statement_run(
    *, rows: Sequence[dict[str, Any]], batch_values: dict[str, Any], now: datetime
) -> list[Decided] | None:
    """Route, store and log a batch (`rows`: one per event, keys of EVENT_FIELDS, and for
    the messages those of MESSAGE_FIELDS and MESSAGE_EXTRA). Returns what became of each
    event, in order, or None when a message's conversation does not exist yet (nothing
    was written).

    `batch_values`: the value of a column that is the same for every row (processed_at);
    columns in neither the rows nor there take their field's default.
    """
    connection = connection_for(Message)
    statement, slots = _statement(connection)
    params: list[Any] = [rows_document(rows)]
    for slot in slots:
        if slot is None:
            params.append(now)
        else:
            field, preparer = slot
            value = batch_values[field.attname] if field.attname in batch_values else field.get_default()
            params.append(prepare(preparer, value))
    # The statement is atomic by itself; inside a caller's transaction (tests) it gets a savepoint
    # so that a failure leaves that transaction usable for the step-by-step path.
    savepoint = transaction.atomic(using=connection.alias) if connection.in_atomic_block else nullcontext()
    with savepoint, connection.cursor() as cursor:
        execute_prepared(connection, cursor, STATEMENT_NAME, statement, params)
        result = cursor.fetchall()
    if not result[0][0]:
        return None
    return [Decided(*row[2:16]) for row in result]
