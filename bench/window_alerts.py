"""Bench of the reply-window alert job (messenger.services.window_alerts): 100,000 open
conversations whose customers last wrote over the past 90 days, half of them unanswered, a
third of those assigned; one run flags and tells of the windows about to close and keeps the
closed ones as lost (budget 5 s on PostgreSQL), and a second run changes nothing (budget 1 s).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_window .venv/bin/python bench/window_alerts.py

It works in a throwaway database (`<name>_bench`, created, migrated and dropped), generates
the data set-based (INSERT … SELECT generate_series) and prints one line starting with
`window_alerts:`. The exit status is 1 when a budget is exceeded or the second run changed
anything. `--conversations 2000` for a quick look.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

FIRST_RUN_BUDGET_SECONDS = 5.0
SECOND_RUN_BUDGET_SECONDS = 1.0
DAYS = 90


def _generate(*, conversations: int) -> None:
    from channels.models import Channel
    from helpdesk.models import Department, Membership, Organization, Role
    from messenger.models import FacebookPage
    from tests import factories

    organization = Organization.objects.create(name="Bench", slug="bench")
    department = Department.objects.create(organization=organization, name="Support")
    channel = Channel.objects.create(organization=organization, department=department, name="Bench page")
    page = FacebookPage.objects.create(organization=organization, channel=channel, page_id="100200300", name="Bench")
    admin = factories.make_member(organization, role=Role.ADMIN, username="bench-admin", departments=[department])
    agents = [
        factories.make_member(organization, role=Role.AGENT, username=f"bench-agent-{n}", departments=[department])
        for n in range(30)
    ]
    assert isinstance(admin, Membership)
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
        # The customer's last message spread evenly over the days; every other one unanswered,
        # every third of those held by one of the agents.
        cursor.execute(
            """
            INSERT INTO messenger_conversation (organization_id, channel_id, department_id, page_id, contact_id,
                                                state, assignee_id, last_inbound_at, last_message_at,
                                                last_message_preview, unread_count, waiting_since, created_at,
                                                updated_at)
            SELECT %(org)s, %(channel)s, %(department)s, %(page)s, c.id, 'open',
                   CASE WHEN c.id %% 3 = 0 THEN (%(agents)s)[1 + c.id %% %(agent_count)s] END,
                   now() - (c.id %% %(n)s) * (%(days)s * interval '1 day' / %(n)s),
                   now() - (c.id %% %(n)s) * (%(days)s * interval '1 day' / %(n)s),
                   'Hello', 1,
                   CASE WHEN c.id %% 2 = 0 THEN now() - (c.id %% %(n)s) * (%(days)s * interval '1 day' / %(n)s) END,
                   now(), now()
            FROM messenger_contact AS c WHERE c.page_id = %(page)s
            """,
            {
                **ids,
                "n": conversations,
                "days": DAYS,
                "agents": [agent.user_id for agent in agents],
                "agent_count": len(agents),
            },
        )
        cursor.execute("ANALYZE messenger_contact, messenger_conversation")


def run(*, conversations: int) -> bool:
    from messenger.models import WindowAlert, WindowLoss
    from messenger.services.window_alerts import window_alerts_send

    started = time.perf_counter()
    _generate(conversations=conversations)
    generated_in = time.perf_counter() - started

    now = timezone.now()
    started = time.perf_counter()
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        profile = cProfile.Profile()
        first = profile.runcall(window_alerts_send, now=now)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    else:
        first = window_alerts_send(now=now)
    first_seconds = time.perf_counter() - started
    started = time.perf_counter()
    second = window_alerts_send(now=now)
    second_seconds = time.perf_counter() - started
    counted = (WindowAlert.objects.count(), WindowLoss.objects.count())
    # A minute later, as the beat job runs: the few windows that crossed since.
    started = time.perf_counter()
    window_alerts_send(now=now + timezone.timedelta(minutes=1))
    minute_seconds = time.perf_counter() - started

    ok = (
        second.total == 0
        and (first.alerted, first.lost) == counted
        and first_seconds < FIRST_RUN_BUDGET_SECONDS
        and second_seconds < SECOND_RUN_BUDGET_SECONDS
    )
    print(
        f"window_alerts: {'PASS' if ok else 'FAIL'} {conversations:,} open conversations over {DAYS} days;"
        f" first run flagged"
        f" {first.alerted:,} and kept {first.lost:,} lost in {first_seconds:.2f} s (budget"
        f" {FIRST_RUN_BUDGET_SECONDS:.0f} s); second run changed {second.total} in {second_seconds:.3f} s (budget"
        f" {SECOND_RUN_BUDGET_SECONDS:.0f} s); a minute later {minute_seconds:.3f} s; data generated in"
        f" {generated_in:.1f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    args = parser.parse_args()
    from bench import database

    return database.in_test_database("window_alerts", lambda: run(conversations=args.conversations))


if __name__ == "__main__":
    sys.exit(main())
