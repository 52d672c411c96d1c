"""The conversations a batch of messages touches: one UPDATE for all of them, relative to
the locked rows (the latest message wins whatever the arrival order, unread counts add up),
and the system line of a conversation the customer reopened. The SET clause is shared with
the one statement (messenger.webhook.one_statement_sql).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from messenger.models import Conversation, ConversationEvent, ConversationState
from messenger.webhook.sql import column, column_of, connection_for


def conversation_bump_assignments(quote: Callable[[str], str], target: str, values: str) -> str:
    """SET clause from the batch's values for one conversation, the columns of `values` (an
    SQL row alias) named as ConversationBump's fields: its latest message time and preview,
    the customer's last message that opens the reply window (a rating's answer too), their
    last and first messages that ask for an answer and how many (NULL, 0: none), the
    latest answer sent outside the helpdesk (NULL: none). The last placeholder is updated_at.
    Both ways of storing use it.

    Every value is relative to the row as it is (SQL reads the old row in SET), so an older
    message arriving late never moves last_* back, and two POSTs for one conversation add up.
    The customer waits from their first message no answer followed: an answer at least as
    recent as what they wrote ends the wait, a message of theirs starts one unless one runs,
    and after an answer in the batch that ended the running wait, the new one starts with their
    first message after it (`waits_from`), not with one the answer answered.
    A conversation the customer reopens, unassigned, in a channel that assigns by itself
    (`assign_on`, its page's channel) joins that channel's queue.
    """
    last_at, preview, last_in, wrote = (f"{values}.{name}" for name in ("last_at", "preview", "last_in", "wrote"))
    first_in, answered, assign_on = f"{values}.first_in", f"{values}.answered", f"{values}.assign_on"
    waits_from = f"{values}.waits_from"
    last_wrote = f"{values}.last_wrote"
    field = Conversation._meta.get_field

    def col(name: str) -> str:
        return quote(column_of(field(name)))

    last_message_at, last_inbound_at = f"{target}.{col('last_message_at')}", f"{target}.{col('last_inbound_at')}"
    waiting_since, queued_at = f"{target}.{col('waiting_since')}", f"{target}.{col('queued_at')}"
    reopened = f"{wrote} > 0 AND {target}.{col('state')} = '{ConversationState.CLOSED}'"
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
        f"{col('waiting_since')} = CASE WHEN {answered} IS NOT NULL AND "
        f"{answered} >= COALESCE({last_wrote}, {waiting_since}, {answered}) THEN NULL "
        f"WHEN {waits_from} IS NOT NULL AND {answered} IS NOT NULL "
        f"AND {answered} >= COALESCE({waiting_since}, {answered}) THEN {waits_from} "
        f"WHEN {waits_from} IS NOT NULL THEN COALESCE({waiting_since}, {waits_from}) ELSE {waiting_since} END, "
        f"{col('queued_at')} = CASE WHEN {reopened} AND {assign_on} AND {target}.{col('assignee')} IS NULL "
        f"THEN COALESCE({queued_at}, {first_in}) ELSE {queued_at} END, "
        f"{col('updated_at')} = %s"
    )


@dataclass(frozen=True, slots=True)
class ConversationBump:
    """What a batch's messages change in one conversation."""

    conversation_id: int
    last_at: datetime  # its latest message's time...
    preview: str  # ...and preview
    last_in: datetime | None  # the customer's last message, a rating's answer too (None: none)
    last_wrote: datetime | None  # the customer's last message that asks for an answer (None: none)
    wrote: int  # how many the customer wrote (that ask for an answer)
    first_in: datetime | None  # the customer's first message (None: the customer wrote nothing)
    answered: datetime | None  # the latest answer sent outside the helpdesk (None: none)
    assign_on: bool  # its page's channel assigns conversations by itself
    # The customer's first message after `answered` (all of theirs when no answer; None: none).
    waits_from: datetime | None


# The columns of a bump as SQL values, in ConversationBump's order after the id.
BUMP_COLUMNS = (
    "last_at",
    "preview",
    "last_in",
    "last_wrote",
    "wrote",
    "first_in",
    "answered",
    "assign_on",
    "waits_from",
)
_BUMP_TYPES = (
    "timestamptz",
    "varchar",
    "timestamptz",
    "timestamptz",
    "integer",
    "timestamptz",
    "timestamptz",
    "boolean",
    "timestamptz",
)


def conversations_bump(bumps: list[ConversationBump]) -> list[int]:
    """One UPDATE for all touched conversations; a reopening writes its system line.
    Returns the ids of the conversations the customer reopened."""
    aggregates = [
        (
            b.conversation_id,
            b.last_at,
            b.preview,
            b.last_in,
            b.last_wrote,
            b.wrote,
            b.first_in,
            b.answered,
            b.assign_on,
            b.waits_from,
        )
        for b in sorted(bumps, key=lambda b: b.conversation_id)
    ]
    connection = connection_for(Conversation)
    quote = connection.ops.quote_name
    name, pk = quote(Conversation._meta.db_table), quote(column_of(Conversation._meta.pk))
    state, organization = column(Conversation, "state"), column(Conversation, "organization")
    date_field = Conversation._meta.get_field("last_message_at")
    preview_field = Conversation._meta.get_field("last_message_preview")
    params: list[Any] = []
    for (
        conversation_id,
        last_at,
        preview,
        last_in,
        last_wrote,
        wrote_count,
        first_in,
        answered,
        assign_on,
        waits_from,
    ) in aggregates:
        params += [
            conversation_id,
            date_field.get_db_prep_save(last_at, connection),
            preview_field.get_db_prep_save(preview, connection),
            date_field.get_db_prep_save(last_in, connection),
            date_field.get_db_prep_save(last_wrote, connection),
            wrote_count,
            date_field.get_db_prep_save(first_in, connection),
            date_field.get_db_prep_save(answered, connection),
            assign_on,
            date_field.get_db_prep_save(waits_from, connection),
        ]
    now = date_field.get_db_prep_save(timezone.now(), connection)
    ids = [a[0] for a in aggregates]
    id_list = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            assignments = conversation_bump_assignments(quote, "c", "a")
            row = ", ".join(["%s::bigint", *(f"%s::{sql_type}" for sql_type in _BUMP_TYPES)])
            values = ", ".join([f"({row})"] * len(ids))
            # The old state comes from the locked row, so that a reopening is told exactly once.
            cursor.execute(
                f"UPDATE {name} AS c SET {assignments} "  # noqa: S608
                f"FROM (VALUES {values}) AS a (id, {', '.join(BUMP_COLUMNS)}), "
                f"(SELECT {pk} AS id, {state} AS state FROM {name} WHERE {pk} IN ({id_list}) "
                f"ORDER BY {pk} FOR UPDATE) AS o "
                f"WHERE c.{pk} = a.id AND o.id = a.id RETURNING c.{pk}, c.{organization}, o.state, a.wrote",
                [now, *params, *ids],
            )
            before = [(row[0], row[1], row[2]) for row in cursor.fetchall() if row[3] > 0]
        else:
            # SQLite runs one writer at a time: what is read here is what the UPDATE changes.
            cursor.execute(f"SELECT {pk}, {organization}, {state} FROM {name} WHERE {pk} IN ({id_list})", ids)  # noqa: S608
            wrote_by_id = {a[0]: a[5] for a in aggregates}
            before = [row for row in cursor.fetchall() if wrote_by_id[row[0]] > 0]
            # SQLite names a VALUES list's columns column1, column2…: a subquery names them.
            assignments = conversation_bump_assignments(quote, "c", "v")
            values = ", ".join(["(" + ", ".join(["%s"] * (1 + len(BUMP_COLUMNS))) + ")"] * len(ids))
            named = ", ".join(f"column{n + 2} AS {name}" for n, name in enumerate(BUMP_COLUMNS))
            cursor.execute(
                f"UPDATE {name} AS c SET {assignments} "  # noqa: S608
                f"FROM (SELECT column1 AS id, {named} FROM (VALUES {values})) AS v WHERE c.{pk} = v.id",
                [now, *params],
            )
    reopened = [(organization_id, pk_) for pk_, organization_id, old in before if old == ConversationState.CLOSED]
    if reopened:
        ConversationEvent.objects.bulk_create(
            ConversationEvent(
                organization_id=organization_id, conversation_id=pk_, kind=ConversationEvent.Kind.REOPENED
            )
            for organization_id, pk_ in reopened
        )
    return [pk_ for _organization_id, pk_ in reopened]
