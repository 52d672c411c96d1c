"""Plain SQL for the webhook's hot path, built from the models' own fields.

The ORM compiles each query anew, which costs more than the round trip itself on this path
(a locked join, a CASE-per-field bulk_update). The webhook writes its few statements as
plain SQL instead, with names from the models and values prepared as each field would
(`value_preparers`), so that they hold on PostgreSQL and SQLite alike. `insert_rows` is
INSERT … ON CONFLICT DO NOTHING (SQLite: INSERT OR IGNORE) … RETURNING, which, unlike
bulk_create(ignore_conflicts=True), tells which rows the statement itself inserted.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.db.models.constants import OnConflict
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.utils import timezone

Preparer = Callable[[Any], Any]

# Values the webhook builds itself (str, int, bool, aware datetime, UUID, None) that
# psycopg2 takes as they are: preparing them field by field is most of the cost of a batch.
_AS_IS_ON_POSTGRESQL = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.DateTimeField,
    models.UUIDField,
    models.AutoField,
    models.BigAutoField,
)
_preparers: dict[tuple[str, type[Model]], list[Preparer | None]] = {}


def literal(value: str) -> str:
    """A constant of the code (a reason, an outcome, a state) as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def connection_for(model: type[Model]) -> BaseDatabaseWrapper:
    return connections[router.db_for_write(model)]


def table(model: type[Model]) -> str:
    return connection_for(model).ops.quote_name(model._meta.db_table)


def column_of(field: Field[Any, Any] | ForeignObjectRel) -> str:
    """The (unquoted) column of a concrete field; a reverse relation or a non-concrete field has none."""
    if isinstance(field, ForeignObjectRel) or field.column is None:
        raise ValueError(f"{field!r} has no column of its own.")
    return field.column


def column(model: type[Model], name: str) -> str:
    return connection_for(model).ops.quote_name(column_of(model._meta.get_field(name)))


def insertable_fields(model: type[Model]) -> list[Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if not f.primary_key and not f.generated]


def _preparer(field: Field[Any, Any], connection: BaseDatabaseWrapper) -> Preparer | None:
    if connection.vendor == "postgresql":
        target = field.target_field if isinstance(field, models.ForeignKey) else field
        if isinstance(target, models.JSONField):
            return partial(_json, connection, target.encoder)
        if isinstance(target, _AS_IS_ON_POSTGRESQL):
            return None
    return partial(_prep, field, connection)


def _json(connection: BaseDatabaseWrapper, encoder: Any, value: Any) -> Any:
    return connection.ops.adapt_json_value(value, encoder)


def _prep(field: Field[Any, Any], connection: BaseDatabaseWrapper, value: Any) -> Any:
    return field.get_db_prep_save(value, connection)


def value_preparers(model: type[Model]) -> list[Preparer | None]:
    """For each insertable field, what turns a Python value into a query parameter (None: as is)."""
    connection = connection_for(model)
    key = (connection.alias, model)
    if key not in _preparers:
        _preparers[key] = [_preparer(f, connection) for f in insertable_fields(model)]
    return _preparers[key]


def prepare(preparer: Preparer | None, value: Any) -> Any:
    return value if preparer is None else preparer(value)


def insert_rows(
    model: type[Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    returning: Sequence[str] = (),
    ignore_conflicts: bool = False,
) -> list[tuple[Any, ...]]:
    """Insert `rows` (attname → value; missing fields take their default, auto_now fields now).

    With `ignore_conflicts`, rows that hit a unique constraint are skipped; `returning`
    then reads back only what this statement inserted.
    """
    if not rows:
        return []
    connection = connection_for(model)
    quote = connection.ops.quote_name
    fields = insertable_fields(model)
    preparers = value_preparers(model)
    now = timezone.now()
    defaults = {
        f.attname: now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
        for f in fields
    }
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    head = (
        f"{connection.ops.insert_statement(on_conflict=on_conflict)} {quote(model._meta.db_table)} "
        f"({', '.join(quote(column_of(f)) for f in fields)}) VALUES "
    )
    suffix = connection.ops.on_conflict_suffix_sql(fields, on_conflict, [], []) if on_conflict else ""
    if returning:
        suffix += " RETURNING " + ", ".join(quote(column_of(model._meta.get_field(name))) for name in returning)
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    batch_size = max(connection.ops.bulk_batch_size(fields, rows), 1)
    inserted: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            params: list[Any] = []
            for row in batch:
                for field, preparer in zip(fields, preparers, strict=True):
                    value = row[field.attname] if field.attname in row else defaults[field.attname]
                    params.append(value if preparer is None else preparer(value))
            cursor.execute(head + ", ".join([placeholder] * len(batch)) + (" " + suffix if suffix else ""), params)
            if returning:
                inserted.extend(tuple(row) for row in cursor.fetchall())
    return inserted


# Statements prepared on each open PostgreSQL connection (PREPARE lasts as long as the session,
# whatever becomes of the transaction it ran in).
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_UNDEFINED_PREPARED_STATEMENT = "26000"  # SQLSTATE invalid_sql_statement_name


def execute_prepared(
    connection: BaseDatabaseWrapper, cursor: Any, name: str, statement: str, params: Sequence[Any]
) -> None:
    """Execute `statement` (every placeholder cast to its type) as a server-side prepared
    statement on PostgreSQL: planned once per connection instead of at every POST."""
    if connection.vendor != "postgresql":
        cursor.execute(statement, params)
        return
    raw = connection.connection
    names = _prepared.setdefault(raw, set())
    if name not in names:
        if not names:
            # Planned once, when first executed: PostgreSQL would otherwise plan a statement
            # whose arrays it cannot size anew at every call (a "custom plan"). Only prepared
            # statements follow this setting, and the webhook's are the only ones.
            cursor.execute("SET plan_cache_mode = force_generic_plan")
        numbered = statement.split("%s")
        text = numbered[0] + "".join(f"${n}{part}" for n, part in enumerate(numbered[1:], start=1))
        cursor.execute(f"PREPARE {name} AS {text}")
        names.add(name)
    try:
        cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})", params)
    except Exception as error:
        # Gone with a DISCARD or a pooler's reset: prepared again next time. Any other failure
        # (a value refused, a statement that failed) leaves it prepared: PREPARE-ing it again
        # would fail on this connection for as long as it lives.
        if getattr(error.__cause__, "pgcode", None) == _UNDEFINED_PREPARED_STATEMENT:
            names.discard(name)
        raise
