"""Many rows updated with their own values in one statement (`WITH v AS (VALUES …) UPDATE …
FROM v`), on PostgreSQL and SQLite (3.33+) alike: Django's bulk_update builds a CASE per field
and row, whose Python cost was most of a delivery batch's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def rows_update(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Each row is (pk, *values of `columns`)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    fields = [model._meta.pk, *(model._meta.get_field(name) for name in columns)]
    assert all(isinstance(field, models.Field) for field in fields)
    concrete = [field for field in fields if isinstance(field, models.Field)]
    if connection.vendor == "postgresql":
        placeholders = [f"CAST(%s AS {field.db_type(connection)})" for field in concrete]
    else:
        placeholders = ["%s"] * len(concrete)
    row_sql = "(" + ", ".join(placeholders) + ")"
    names = [quote(str(field.column)) for field in concrete]
    table = quote(model._meta.db_table)
    statement = (
        f"WITH v ({', '.join(names)}) AS (VALUES {', '.join([row_sql] * len(rows))}) "  # noqa: S608 (names from the model)
        f"UPDATE {table} SET {', '.join(f'{name} = v.{name}' for name in names[1:])} "
        f"FROM v WHERE {table}.{names[0]} = v.{names[0]}"
    )
    # A batch repeats its values (the same time, state, status…): each is prepared once.
    prepared: dict[tuple[int, type, Any], Any] = {}
    parameters = []
    for row in rows:
        for index, (field, value) in enumerate(zip(concrete, row, strict=True)):
            try:
                key = (index, type(value), value)
                parameters.append(prepared[key])
            except KeyError:
                parameters.append(prepared.setdefault(key, field.get_db_prep_save(value, connection)))
            except TypeError:  # not hashable
                parameters.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(statement, parameters)
