"""The common case in one statement: messages in conversations that already exist.

On PostgreSQL a batch whose live events are all messages (or postbacks, referrals, opt-ins,
echoes of replies made elsewhere) from known customers is stored by a single statement,
atomic by itself and so committed without a transaction of its own:

    WITH v AS (unnest of the messages' columns, one array per column),
         ins AS (INSERT INTO message SELECT … FROM v ON CONFLICT DO NOTHING RETURNING id, page, mid),
         agg AS (per conversation, over the rows really inserted: latest time and preview,
                 last customer message, how many the customer wrote),
         bump AS (UPDATE conversation … FROM agg, (the conversations locked) RETURNING old state),
         reopened AS (INSERT INTO conversationevent … for the conversations that were closed),
         log AS (INSERT INTO webhookevent … outcome stored or duplicate as `ins` says)
    SELECT id, page, mid FROM ins

One round trip instead of a transaction of five statements: on this path the round trips,
not the work, are what Facebook waits for. Columns travel as arrays, so the statement's
text does not depend on the batch and is built once. The conversation update is the one
the general path uses (`conversation_bump_assignments`): relative to the row as it is when
locked, so that the latest message wins whatever the arrival order and concurrent POSTs
add up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from messenger.models import Conversation, ConversationEvent, ConversationState, Message, WebhookEvent, WebhookOutcome
from messenger.webhook.sql import connection_for, execute_prepared, insertable_fields, prepare, value_preparers

# Extra per-message values the statement needs beside the columns (keys of a message row).
PREVIEW = "_preview"
COUNTS = "_counts"  # the customer wrote: unread, reply window, reopening
ORDER = "_order"
# Extra per-event values of the event log rows.
PAGE_PK = "_page_pk"  # None: the outcome is already decided
STORED_REASON = "_stored_reason"
DUPLICATE_REASON = "_duplicate_reason"

# Columns that vary from one message (event) to the next; every other column takes one value
# for the whole batch (its default, or the batch's own such as received_at).
MESSAGE_COLUMNS = (
    "organization_id",
    "conversation_id",
    "page_id",
    "mid",
    "direction",
    "source",
    "kind",
    "status",
    "text",
    "attachments",
    "sticker_id",
    "quick_reply_payload",
    "reply_to_mid",
    "postback_title",
    "postback_payload",
    "sent_at",
    "is_hidden",
)
MESSAGE_EXTRA = ((PREVIEW, "varchar(200)"), (COUNTS, "boolean"), (ORDER, "integer"))
EVENT_COLUMNS = ("organization_id", "page_id", "kind", "mid", "payload", "outcome", "reason")
EVENT_EXTRA = (
    (PAGE_PK, "bigint"),
    (STORED_REASON, "varchar(60)"),
    (DUPLICATE_REASON, "varchar(60)"),
    (ORDER, "integer"),
)

STATEMENT_NAME = "messenger_webhook_store"
# The statement of each database, with what each placeholder stands for: ("array", model,
# column) one array over the rows, ("constant", model, column) one value for the batch,
# ("now", None, "") the batch's clock.
_statements: dict[str, tuple[str, list[tuple[str, Any, str]]]] = {}


def conversation_bump_assignments(
    quote: Callable[[str], str], target: str, last_at: str, preview: str, last_in: str, wrote: str
) -> str:
    """SET clause from the batch's values for one conversation (SQL expressions): its latest
    message time and preview, the customer's last message time (may be NULL), how many the
    customer wrote. The last placeholder is updated_at.

    Every value is relative to the row as it is (SQL reads the old row in SET), so an older
    message arriving late never moves last_* back, and two POSTs for one conversation add up.
    """
    field = Conversation._meta.get_field

    def col(name: str) -> str:
        return quote(field(name).column)

    last_message_at, last_inbound_at = f"{target}.{col('last_message_at')}", f"{target}.{col('last_inbound_at')}"
    newer = f"{last_message_at} IS NULL OR {last_at} >= {last_message_at}"
    return (
        f"{col('last_message_at')} = CASE WHEN {newer} THEN {last_at} ELSE {last_message_at} END, "
        f"{col('last_message_preview')} = CASE WHEN {newer} THEN {preview} "
        f"ELSE {target}.{col('last_message_preview')} END, "
        f"{col('last_inbound_at')} = CASE WHEN {last_in} IS NOT NULL AND "
        f"({last_inbound_at} IS NULL OR {last_in} > {last_inbound_at}) THEN {last_in} "
        f"ELSE {last_inbound_at} END, "
        f"{col('unread_count')} = {target}.{col('unread_count')} + {wrote}, "
        f"{col('state')} = CASE WHEN {wrote} > 0 THEN '{ConversationState.OPEN}' "
        f"ELSE {target}.{col('state')} END, "
        f"{col('updated_at')} = %s"
    )


class _Builder:
    """The statement's text and, in the same order, what each placeholder stands for."""

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.parts: list[str] = []
        self.slots: list[tuple[str, Any, str]] = []

    def q(self, name: str) -> str:
        return self.connection.ops.quote_name(name)

    def add(self, text: str) -> None:
        self.parts.append(text)

    def unnest(self, model: type[Model], columns: Sequence[str], extra: Sequence[tuple[str, str]], alias: str) -> None:
        fields = {f.attname: f for f in insertable_fields(model)}
        arrays = []
        for name in columns:
            arrays.append(f"%s::{fields[name].db_type(self.connection)}[]")
            self.slots.append(("array", model, name))
        for name, sql_type in extra:
            arrays.append(f"%s::{sql_type}[]")
            self.slots.append(("array", model, name))
        names = ", ".join(self.q(name) for name in [*columns, *(name for name, _type in extra)])
        self.add(f"unnest({', '.join(arrays)}) AS {alias} ({names})")

    def select_list(self, model: type[Model], columns: Sequence[str], alias: str, special: Mapping[str, str]) -> None:
        """Every insertable column: from the rows, from `special` SQL, or one value for the batch."""
        items = []
        for field in insertable_fields(model):
            if field.attname in special:
                items.append(special[field.attname])
            elif field.attname in columns:
                items.append(f"{alias}.{self.q(field.attname)}")
            else:
                items.append(f"%s::{field.db_type(self.connection)}")
                self.slots.append(("constant", model, field.attname))
        self.add(", ".join(items))

    def now(self) -> str:
        self.slots.append(("now", None, ""))
        return "%s"


def _statement(connection: BaseDatabaseWrapper) -> tuple[str, list[tuple[str, Any, str]]]:
    if connection.alias in _statements:
        return _statements[connection.alias]
    b = _Builder(connection)
    q = b.q
    m_cols = ", ".join(q(f.column) for f in insertable_fields(Message))
    e_cols = ", ".join(q(f.column) for f in insertable_fields(WebhookEvent))
    message, event = q(Message._meta.db_table), q(WebhookEvent._meta.db_table)
    conversation, conversation_event = q(Conversation._meta.db_table), q(ConversationEvent._meta.db_table)
    c_id, c_state = q(Conversation._meta.pk.column), q(Conversation._meta.get_field("state").column)
    c_organization = q(Conversation._meta.get_field("organization").column)
    ce_cols = ", ".join(
        q(ConversationEvent._meta.get_field(name).column)
        for name in ("organization", "conversation", "kind", "actor", "data", "created_at")
    )
    m_page, m_mid = q(Message._meta.get_field("page").column), q(Message._meta.get_field("mid").column)
    m_id = q(Message._meta.pk.column)

    def v(name: str) -> str:
        return f"v.{q(name)}"

    def e(name: str) -> str:
        return f"e.{q(name)}"

    b.add("WITH v AS (SELECT * FROM ")
    b.unnest(Message, MESSAGE_COLUMNS, MESSAGE_EXTRA, "v")
    b.add(f"), ins AS (INSERT INTO {message} ({m_cols}) SELECT ")
    b.select_list(Message, MESSAGE_COLUMNS, "v", {})
    b.add(
        f" FROM v ORDER BY {v('page_id')}, {v('mid')} ON CONFLICT DO NOTHING "  # noqa: S608 (names from the models)
        f"RETURNING {m_id} AS id, {m_page} AS page_id, {m_mid} AS mid), "
        f"agg AS (SELECT {v('conversation_id')} AS id, max({v('sent_at')}) AS last_at, "
        f"(array_agg({v(PREVIEW)} ORDER BY {v('sent_at')} DESC, {v(ORDER)} DESC))[1] AS preview, "
        f"max({v('sent_at')}) FILTER (WHERE {v(COUNTS)}) AS last_in, "
        f"count(*) FILTER (WHERE {v(COUNTS)}) AS wrote "
        f"FROM v JOIN ins ON ins.page_id = {v('page_id')} AND ins.mid = {v('mid')} "
        f"WHERE NOT {v('is_hidden')} GROUP BY {v('conversation_id')}), "
        # Locked once, in id order, before the update reads them (a CTE runs once).
        f"locked AS (SELECT {c_id} AS id, {c_state} AS state FROM {conversation} "
        f"WHERE {c_id} IN (SELECT id FROM agg) ORDER BY {c_id} FOR UPDATE), "
        f"bump AS (UPDATE {conversation} AS c "
        f"SET {conversation_bump_assignments(q, 'c', 'a.last_at', 'a.preview', 'a.last_in', 'a.wrote')} "
    )
    b.slots.append(("now", None, ""))  # the SET clause's updated_at
    b.add(
        f"FROM agg a JOIN locked o ON o.id = a.id WHERE c.{c_id} = a.id "  # noqa: S608
        f"RETURNING c.{c_id} AS id, c.{c_organization} AS organization_id, o.state AS old_state, a.wrote AS wrote), "
        f"reopened AS (INSERT INTO {conversation_event} ({ce_cols}) "
        f"SELECT organization_id, id, '{ConversationEvent.Kind.REOPENED}', NULL, '{{}}'::jsonb, {b.now()} FROM bump "
        f"WHERE old_state = '{ConversationState.CLOSED}' AND wrote > 0), "
        f"log AS (INSERT INTO {event} ({e_cols}) SELECT "
    )
    stored, duplicate = WebhookOutcome.STORED.value, WebhookOutcome.DUPLICATE.value
    b.select_list(
        WebhookEvent,
        EVENT_COLUMNS,
        "e",
        {
            "outcome": f"CASE WHEN {e(PAGE_PK)} IS NULL THEN {e('outcome')} "
            f"WHEN ins.mid IS NOT NULL THEN '{stored}' ELSE '{duplicate}' END",
            "reason": f"CASE WHEN {e(PAGE_PK)} IS NULL THEN {e('reason')} "
            f"WHEN ins.mid IS NOT NULL THEN {e(STORED_REASON)} ELSE {e(DUPLICATE_REASON)} END",
        },
    )
    b.add(" FROM ")
    b.unnest(WebhookEvent, EVENT_COLUMNS, EVENT_EXTRA, "e")
    b.add(f" LEFT JOIN ins ON ins.page_id = {e(PAGE_PK)} AND ins.mid = {e('mid')} ORDER BY {e(ORDER)}) ")
    b.add("SELECT id, page_id, mid FROM ins")
    _statements[connection.alias] = ("".join(b.parts), b.slots)
    return _statements[connection.alias]


@lru_cache(maxsize=8)
def _field_maps(alias: str) -> tuple[dict[Any, dict[str, Any]], dict[Any, dict[str, Any]]]:
    """Per model, each insertable field's value preparer and the field itself, by attname."""
    models = (Message, WebhookEvent)
    preparers = {
        model: dict(zip((f.attname for f in insertable_fields(model)), value_preparers(model), strict=True))
        for model in models
    }
    return preparers, {model: {f.attname: f for f in insertable_fields(model)} for model in models}


def store_in_one_statement(
    *,
    message_rows: Sequence[Mapping[str, Any]],
    event_rows: Sequence[Mapping[str, Any]],
    batch_values: Mapping[str, Any],
    now: datetime,
) -> dict[tuple[int, str], int]:
    """Insert the messages, update their conversations, write the event log. Returns the
    id of each message inserted by its (page pk, mid) (the others were there already).

    `batch_values`: the value of a column that is the same for every row (received_at,
    processed_at); columns in neither the rows nor there take their field's default.
    """
    connection = connection_for(Message)
    statement, slots = _statement(connection)
    preparers, fields = _field_maps(connection.alias)
    rows_of = {Message: message_rows, WebhookEvent: event_rows}
    params: list[Any] = []
    for kind, model, name in slots:
        if kind == "now":
            params.append(now)
        elif kind == "array":
            preparer = preparers[model].get(name)
            params.append([prepare(preparer, row[name]) for row in rows_of[model]])
        else:
            value = batch_values[name] if name in batch_values else fields[model][name].get_default()
            params.append(prepare(preparers[model][name], value))
    # The statement is atomic by itself; inside a caller's transaction (tests) it gets a savepoint
    # so that a failure leaves that transaction usable for the general path.
    savepoint = transaction.atomic(using=connection.alias) if connection.in_atomic_block else nullcontext()
    with savepoint, connection.cursor() as cursor:
        execute_prepared(connection, cursor, STATEMENT_NAME, statement, params)
        return {(page_pk, mid): message_id for message_id, page_pk, mid in cursor.fetchall()}
