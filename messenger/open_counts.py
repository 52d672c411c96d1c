"""The open conversations per (channel, assignee), kept by the database (OpenConversationCount):
the inbox's view counts (Mine, Unassigned, All) read a few rows per channel instead of
counting every open conversation at each poll.

- **Triggers** on the conversation table insert +1 / -1 rows whatever wrote the change: a
  model's save, a queryset's update, the webhook's one statement, a cascade. They are
  installed after every ``migrate`` (``triggers_ensure``, on post_migrate), not by a migration:
  SQLite drops a table's triggers when a later migration rebuilds that table, and a trigger
  found missing is put back with the counts rebuilt from the conversations.
- **Folding** (``fold``, a periodic job) replaces the rows by their sums, one row per
  (channel, assignee) that holds open conversations. The counts are the same before and after.
- **Rebuilding** (``rebuild``) counts the conversations afresh: after the triggers were
  missing, or after a bulk load that bypassed them (bench/inbox.py).

Folding and rebuilding are each one statement on PostgreSQL: a change committed meanwhile
keeps its own rows, which the statement neither saw nor deleted; they take turns (an advisory
lock), since two at once would each keep what the other replaced. SQLite runs one writer at a
time, so there they are a transaction of their own.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, transaction

logger = logging.getLogger(__name__)

TABLE = "messenger_openconversationcount"
CONVERSATIONS = "messenger_conversation"
# Versioned names: a trigger whose definition changes gets a new name, and the old one is dropped.
PREFIX = "messenger_open_count_"
FUNCTION = f"{PREFIX}change_v1"
# The columns whose change moves a conversation between counts.
COUNTED = ("state", "channel_id", "assignee_id", "organization_id")

_COLUMNS = "organization_id, channel_id, assignee_id, delta"


def _changed(distinct: str) -> str:
    return " OR ".join(f"OLD.{column} {distinct} NEW.{column}" for column in COUNTED)


_POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.state = 'open' THEN
        INSERT INTO {TABLE} ({_COLUMNS}) VALUES (OLD.organization_id, OLD.channel_id, OLD.assignee_id, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.state = 'open' THEN
        INSERT INTO {TABLE} ({_COLUMNS}) VALUES (NEW.organization_id, NEW.channel_id, NEW.assignee_id, 1);
    END IF;
    RETURN NULL;
END
$$
"""  # noqa: S608 (names are this module's constants)

_POSTGRESQL_TRIGGERS = {
    f"{PREFIX}insert_delete_v1": f"""
        CREATE TRIGGER {PREFIX}insert_delete_v1 AFTER INSERT OR DELETE ON {CONVERSATIONS}
        FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()""",
    # Only a change of a counted column writes a row: the webhook's updates of a conversation's
    # last message cost the WHEN test alone.
    f"{PREFIX}update_v1": f"""
        CREATE TRIGGER {PREFIX}update_v1 AFTER UPDATE OF {", ".join(COUNTED)} ON {CONVERSATIONS}
        FOR EACH ROW WHEN ({_changed("IS DISTINCT FROM")}) EXECUTE FUNCTION {FUNCTION}()""",
}


def _sqlite_row(row: str, delta: int) -> str:
    return (
        f"INSERT INTO {TABLE} ({_COLUMNS}) SELECT {row}.organization_id, {row}.channel_id, {row}.assignee_id, "
        f"{delta} WHERE {row}.state = 'open';"
    )


_SQLITE_TRIGGERS = {
    f"{PREFIX}insert_v1": f"""
        CREATE TRIGGER {PREFIX}insert_v1 AFTER INSERT ON {CONVERSATIONS}
        BEGIN {_sqlite_row("NEW", 1)} END""",
    f"{PREFIX}delete_v1": f"""
        CREATE TRIGGER {PREFIX}delete_v1 AFTER DELETE ON {CONVERSATIONS}
        BEGIN {_sqlite_row("OLD", -1)} END""",
    f"{PREFIX}update_v1": f"""
        CREATE TRIGGER {PREFIX}update_v1 AFTER UPDATE OF {", ".join(COUNTED)} ON {CONVERSATIONS}
        WHEN {_changed("IS NOT")}
        BEGIN {_sqlite_row("OLD", -1)} {_sqlite_row("NEW", 1)} END""",
}


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _triggers() -> dict[str, str]:
    return _POSTGRESQL_TRIGGERS if connection.vendor == "postgresql" else _SQLITE_TRIGGERS


def _installed(cursor: Any) -> set[str]:
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname LIKE %s",
            [CONVERSATIONS, PREFIX + "%"],
        )
    else:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s AND name LIKE %s",
            [CONVERSATIONS, PREFIX + "%"],
        )
    return {name for (name,) in cursor.fetchall()}


def on_post_migrate(*, using: str = DEFAULT_DB_ALIAS, **_kwargs: Any) -> None:
    """post_migrate: the triggers are there after every migrate (and flush)."""
    if using == DEFAULT_DB_ALIAS:
        triggers_ensure()


def triggers_ensure() -> bool:
    """Install the triggers that are missing (and drop those of an older definition); when
    one was missing, rebuild the counts. True when anything changed; nothing while the
    tables do not exist (a migration back to before them)."""
    if connection.vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"open conversation counts need PostgreSQL or SQLite, not {connection.vendor}")
    if not {TABLE, CONVERSATIONS} <= set(connection.introspection.table_names()):
        return False
    wanted = _triggers()
    with transaction.atomic(), connection.cursor() as cursor:
        installed = _installed(cursor)
        missing = [name for name in wanted if name not in installed]
        stale = sorted(installed - set(wanted))
        if not missing and not stale:
            return False
        for name in stale:
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"' + (f" ON {CONVERSATIONS}" if _pg() else ""))
        if _pg():
            cursor.execute(_POSTGRESQL_FUNCTION)
        for name in missing:
            cursor.execute(wanted[name])
        if missing:
            logger.info("open conversation counts: installed %s, rebuilding the counts", ", ".join(missing))
            _rebuild(cursor)
    return True


def triggers_drop(*_args: Any) -> None:
    """Drop every trigger of the counts (a migration back to before their table: the triggers
    would write to a table that no longer exists). Takes RunPython's (apps, schema_editor)."""
    if CONVERSATIONS not in set(connection.introspection.table_names()):
        return
    with connection.cursor() as cursor:
        for name in sorted(_installed(cursor)):
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"' + (f" ON {CONVERSATIONS}" if _pg() else ""))


_REBUILD_SELECT = f"""
    SELECT organization_id, channel_id, assignee_id, COUNT(*) FROM {CONVERSATIONS}
    WHERE state = 'open' GROUP BY organization_id, channel_id, assignee_id"""  # noqa: S608


# Folds and rebuilds take turns (PostgreSQL advisory lock, held to the end of the transaction):
# each replaces rows it read, and two at once would each keep what the other replaced.
_TURN_LOCK = 7_340_261


def _take_turn(cursor: Any) -> None:
    """Wait for a fold or rebuild running now; the next statement sees what it committed."""
    if _pg():
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_TURN_LOCK])


def _rebuild(cursor: Any) -> None:
    _take_turn(cursor)
    if _pg():
        cursor.execute(
            f"WITH gone AS (DELETE FROM {TABLE}) INSERT INTO {TABLE} ({_COLUMNS}) {_REBUILD_SELECT}"  # noqa: S608
        )
    else:
        cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608 (names are this module's constants)
        cursor.execute(f"INSERT INTO {TABLE} ({_COLUMNS}) {_REBUILD_SELECT}")


def rebuild() -> None:
    """Count the open conversations afresh (after a load that bypassed the triggers)."""
    with transaction.atomic(), connection.cursor() as cursor:
        _rebuild(cursor)


_FOLD_SUMS = (
    "SELECT organization_id, channel_id, assignee_id, SUM(delta) FROM {source} {where} "
    "GROUP BY organization_id, channel_id, assignee_id HAVING SUM(delta) <> 0"
)


def fold() -> int:
    """Replace the rows by their sums, one per (channel, assignee) with open conversations.
    Returns how many rows there were."""
    with transaction.atomic(), connection.cursor() as cursor:
        _take_turn(cursor)
        if _pg():
            cursor.execute(
                f"""
                WITH gone AS (DELETE FROM {TABLE} RETURNING {_COLUMNS}),
                     folded AS (INSERT INTO {TABLE} ({_COLUMNS})
                                {_FOLD_SUMS.format(source="gone", where="")})
                SELECT COUNT(*) FROM gone
                """  # noqa: S608 (names are this module's constants)
            )
            (rows,) = cursor.fetchone()
            return int(rows)
        cursor.execute(f"SELECT COUNT(*), MAX(id) FROM {TABLE}")  # noqa: S608 (names are this module's constants)
        rows, last = cursor.fetchone()
        if not rows:
            return 0
        cursor.execute(
            f"INSERT INTO {TABLE} ({_COLUMNS}) {_FOLD_SUMS.format(source=TABLE, where='WHERE id <= %s')}",
            [last],
        )
        cursor.execute(f"DELETE FROM {TABLE} WHERE id <= %s", [last])  # noqa: S608
        return int(rows)
