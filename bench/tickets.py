"""Bench of the idle sweep: 100,000 idle conversations become tickets in one sweep (budget
30 s on PostgreSQL), and a second sweep over the same data converts nothing (budget 2 s).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_tickets .venv/bin/python bench/tickets.py

It works in a throwaway database (`<name>_bench`, created, migrated and dropped), generates
the data set-based (INSERT … SELECT generate_series) and prints one line starting with
`tickets:`. The exit status is 1 when a budget is exceeded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import proc  # noqa: E402

CONVERT_BUDGET_SECONDS = 30.0
SECOND_SWEEP_BUDGET_SECONDS = 2.0


def _generate(*, conversations: int, messages_per_conversation: int) -> dict[str, Any]:
    """One organization, department, channel and page; N contacts, N conversations idle for
    two hours, M messages each (customer and agent in turn, an image now and then)."""
    from channels.models import Channel
    from helpdesk.models import Department, Organization
    from messenger.models import FacebookPage

    organization = Organization.objects.create(name="Bench", slug="bench", time_zone="Asia/Tokyo")
    department = Department.objects.create(organization=organization, name="Support")
    channel = Channel.objects.create(organization=organization, department=department, name="Bench page")
    page = FacebookPage.objects.create(organization=organization, channel=channel, page_id="100200300", name="Bench")
    ids = {"org": organization.pk, "department": department.pk, "channel": channel.pk, "page": page.pk}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO messenger_contact (organization_id, page_id, psid, is_guest, display_name, first_name,
                                           last_name, avatar_url, locale, profile_fetched_at, is_blocked,
                                           blocked_at, created_at)
            SELECT %(org)s, %(page)s, 'psid-' || g, false, 'Customer ' || g, '', '', '', '', NULL, false, NULL,
                   now()
            FROM generate_series(1, %(n)s) AS g
            """,
            {**ids, "n": conversations},
        )
        cursor.execute(
            """
            INSERT INTO messenger_conversation (organization_id, channel_id, department_id, page_id, contact_id,
                                                state, assignee_id, last_inbound_at, last_message_at,
                                                last_message_preview, unread_count, created_at, updated_at)
            SELECT %(org)s, %(channel)s, %(department)s, %(page)s, c.id, 'open', NULL,
                   now() - interval '2 hours', now() - interval '2 hours', 'Thanks', 0, now(), now()
            FROM messenger_contact AS c WHERE c.page_id = %(page)s
            """,
            ids,
        )
        cursor.execute(
            """
            INSERT INTO messenger_message (organization_id, conversation_id, page_id, mid, direction, source, kind,
                                           status, text, attachments, sticker_id, quick_reply_payload, reply_to_mid,
                                           postback_title, postback_payload, reactions, edit_count, edited_at,
                                           sent_at, received_at, author_id, idempotency_key, messaging_type, tag,
                                           attempts, error_code, error_message, delivered_at, read_at, is_hidden)
            SELECT %(org)s, c.id, %(page)s, 'm_' || c.id || '_' || k,
                   CASE WHEN k %% 2 = 1 THEN 'in' ELSE 'out' END,
                   CASE WHEN k %% 2 = 1 THEN 'customer' ELSE 'agent' END,
                   CASE WHEN k = 3 THEN 'attachment' ELSE 'text' END,
                   CASE WHEN k %% 2 = 1 THEN 'received' ELSE 'delivered' END,
                   CASE WHEN k = 3 THEN ''
                        ELSE 'Message ' || k || ' about order #' || c.id || ': where is my parcel, it was due on Monday'
                   END,
                   CASE WHEN k = 3 THEN ('[{"type": "image", "url": "https://cdn.example/' || c.id || '.jpg"}]')::jsonb
                        ELSE '[]'::jsonb END,
                   '', '', '', '', '', '{}'::jsonb, 0, NULL,
                   now() - interval '2 hours' - (%(m)s - k) * interval '1 minute',
                   now() - interval '2 hours' - (%(m)s - k) * interval '1 minute',
                   NULL, NULL, '', '', 0, '', '', NULL, NULL, false
            FROM messenger_conversation AS c CROSS JOIN generate_series(1, %(m)s) AS k
            WHERE c.page_id = %(page)s
            """,
            {**ids, "m": messages_per_conversation},
        )
        # As autovacuum would have done by the time a real sweep meets this much data.
        cursor.execute("ANALYZE messenger_contact, messenger_conversation, messenger_message")
    return ids


def _server_cpu_seconds() -> float | None:
    """CPU time used so far by the local PostgreSQL server: its live processes and the
    backends that have exited (the sweep's workers each have a connection of their own).
    The wall time of a shared machine says little on its own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    postmaster = proc.parent(pid)
    if postmaster is None:
        return None
    live = sum(proc.cpu_seconds(child) for child in proc.children(postmaster))
    return live + proc.cpu_seconds(postmaster, exited_children=True)


def run(*, conversations: int, messages_per_conversation: int, batch_size: int, workers: int) -> bool:
    from tickets.models import Ticket
    from tickets.services import ticket_sweep_idle_conversations

    started = time.perf_counter()
    _generate(conversations=conversations, messages_per_conversation=messages_per_conversation)
    generated_in = time.perf_counter() - started

    backend_cpu = _server_cpu_seconds()
    python_cpu = time.process_time()
    started = time.perf_counter()
    converted = ticket_sweep_idle_conversations(now=timezone.now(), batch_size=batch_size, workers=workers)
    convert_seconds = time.perf_counter() - started
    python_cpu = time.process_time() - python_cpu
    backend_after = _server_cpu_seconds()
    database_cpu = backend_after - backend_cpu if backend_cpu is not None and backend_after is not None else None

    started = time.perf_counter()
    again = ticket_sweep_idle_conversations(now=timezone.now(), batch_size=batch_size, workers=workers)
    second_seconds = time.perf_counter() - started

    tickets = Ticket.objects.count()
    ok = (
        converted == conversations == tickets
        and again == 0
        and convert_seconds < CONVERT_BUDGET_SECONDS
        and second_seconds < SECOND_SWEEP_BUDGET_SECONDS
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    print(
        f"tickets: {converted:,} of {conversations:,} idle conversations ({conversations * messages_per_conversation:,}"
        f" messages) converted in {convert_seconds:.1f} s ({converted / max(convert_seconds, 1e-9):,.0f}/s,"
        f" budget {CONVERT_BUDGET_SECONDS:.0f} s); second sweep converted {again} in {second_seconds:.2f} s"
        f" (budget {SECOND_SWEEP_BUDGET_SECONDS:.0f} s); batches of {batch_size:,}; data generated in"
        f" {generated_in:.1f} s; PostgreSQL {server}; {workers} workers;"
        f" CPU of the first sweep: Python {python_cpu:.1f} s"
        f" + PostgreSQL server {'?' if database_cpu is None else f'{database_cpu:.1f}'} s; load average"
        f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {'OK' if ok else 'FAILED'}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=4, help="messages per conversation")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--workers", type=int, default=settings.TICKET_SWEEP_WORKERS, help="threads of the sweep")
    args = parser.parse_args()
    from bench import database
    from tickets.services import SWEEP_BATCH_SIZE

    return database.in_test_database(
        "tickets",
        lambda: run(
            conversations=args.conversations,
            messages_per_conversation=args.messages,
            batch_size=args.batch_size or SWEEP_BATCH_SIZE,
            workers=args.workers,
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
