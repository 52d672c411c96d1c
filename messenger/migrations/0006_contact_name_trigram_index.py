"""A trigram index for the inbox search by contact name, on PostgreSQL.

The search is a case-insensitive substring match (`icontains`, which Django writes as
UPPER(column) LIKE UPPER(pattern)): a GIN index of the trigrams of UPPER(display_name)
answers it without reading every contact. Built CONCURRENTLY (outside a transaction) so that
a live database keeps receiving messages meanwhile. SQLite has no such index: nothing to do.

Message text has no such index: it would be written at every message the webhook stores
(about 5 % of the webhook's cost per message, measured with bench/webhook_profile.py), and
the search reads the organization's messages once (messenger.selectors.conversation_list).
"""

from django.db import migrations

INDEXES = (("contact_name_trgm_idx", "messenger_contact", "display_name"),)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING gin (upper({column}::text) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messenger", "0005_message_attachments_tried_at"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
