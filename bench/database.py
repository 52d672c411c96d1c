"""A throwaway PostgreSQL database for a benchmark: `<name>_bench` beside the one DATABASE_URL
names, created before a run and dropped after it, so that every run starts alike: empty
(`throwaway`, `recreate`, `drop`: the benchmarks whose workers or servers connect to it too)
or migrated as Django's test database (`in_test_database`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import dj_database_url
import psycopg2


def throwaway(bench: str) -> tuple[str, dict[str, object]]:
    """The URL of the bench's database and its connection settings (DATABASE_URL's, another
    name); exits with a message when DATABASE_URL is not PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    config = dj_database_url.parse(url) if url else {}
    if "postgresql" not in str(config.get("ENGINE", "")):
        sys.exit(f"bench/{bench}.py needs DATABASE_URL=postgres://… (the budget is about PostgreSQL)")
    name = f"{config['NAME']}_bench"
    return url.rsplit("/", 1)[0] + "/" + name, {**config, "NAME": name}


def admin_sql(config: dict[str, object], sql: str) -> None:
    """One statement on the server's `postgres` database (CREATE and DROP DATABASE)."""
    connection = psycopg2.connect(
        dbname="postgres",
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        host=config.get("HOST") or None,
        port=config.get("PORT") or 5432,
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


def recreate(config: dict[str, object]) -> None:
    admin_sql(config, f'DROP DATABASE IF EXISTS "{config["NAME"]}" WITH (FORCE)')
    admin_sql(config, f'CREATE DATABASE "{config["NAME"]}"')


def drop(config: dict[str, object]) -> None:
    admin_sql(config, f'DROP DATABASE IF EXISTS "{config["NAME"]}" WITH (FORCE)')


def in_test_database(bench: str, run: Callable[[], bool]) -> int:
    """Runs ``run`` in Django's test database of DATABASE_URL's (`<name>_bench`, created and
    migrated, then destroyed): the exit status, 1 when it returned False. Skipped (0) on a
    database other than PostgreSQL, which the budgets are about."""
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        print(f"{bench}: skipped (needs PostgreSQL: set DATABASE_URL=postgres://…)")
        return 0
    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"{database['NAME']}_bench"
    original_name = database["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        return 0 if run() else 1
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
