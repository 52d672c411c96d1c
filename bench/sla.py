"""Bench of the conversations' SLA job (messenger.services.sla.conversations_sla_sweep):
100,000 open conversations whose customers wait since some time in the past 3 days, half of
them answered once before (next response target), a third assigned, under a business-hours
policy (weekdays 9:00–18:00) of the department. One run times every wait, warns of those at
risk and marks the breaches (budget 5 s on PostgreSQL); a second run at the same moment
changes nothing (budget 1 s).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_sla .venv/bin/python bench/sla.py

It works in a throwaway database (`<name>_bench`, created, migrated and dropped), generates
the data set-based (INSERT … SELECT generate_series) and prints one line starting with
`sla:`. The exit status is 1 when a budget is exceeded or the second run changed anything.
`--conversations 2000` for a quick look.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timedelta
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
HOURS = 72


def _moment() -> datetime:
    """The run's "now": Wednesday 15:30 in the organization's time zone (UTC), the latest before
    the clock's now. How many waits fall due in the hour before (and so how many notices the
    run sends) depends on the time of day: a fixed point of the week keeps runs comparable."""
    now = timezone.now()
    moment = (now - timedelta(days=(now.weekday() - 2) % 7)).replace(hour=15, minute=30, second=0, microsecond=0)
    return moment if moment <= now else moment - timedelta(days=7)


def _generate(*, conversations: int, now: datetime) -> None:
    from channels.models import BusinessHours, BusinessInterval, Channel
    from helpdesk.models import Department, Organization, Role
    from messenger.models import FacebookPage
    from sla.models import SlaClock, SlaPolicy
    from tests import factories

    organization = Organization.objects.create(name="Bench", slug="bench")
    department = Department.objects.create(organization=organization, name="Support")
    channel = Channel.objects.create(organization=organization, department=department, name="Bench page")
    page = FacebookPage.objects.create(organization=organization, channel=channel, page_id="100200300", name="Bench")
    factories.make_member(organization, role=Role.ADMIN, username="bench-admin", departments=[department])
    agents = [
        factories.make_member(organization, role=Role.AGENT, username=f"bench-agent-{n}", departments=[department])
        for n in range(30)
    ]
    hours = BusinessHours.objects.create(organization=organization, department=department, is_enabled=True)
    BusinessInterval.objects.bulk_create(
        BusinessInterval(
            organization=organization, business_hours=hours, weekday=weekday, start_minute=9 * 60, end_minute=18 * 60
        )
        for weekday in range(5)
    )
    SlaPolicy.objects.create(
        organization=organization,
        department=department,
        first_response_minutes=60,
        next_response_minutes=240,
        resolution_minutes=24 * 60,
        clock=SlaClock.BUSINESS_HOURS,
    )
    ids = {"org": organization.pk, "department": department.pk, "channel": channel.pk, "page": page.pk}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO messenger_contact (organization_id, page_id, psid, is_guest, display_name, first_name,
                                           last_name, avatar_url, locale, profile_fetched_at, is_blocked,
                                           blocked_at, created_at)
            SELECT %(org)s, %(page)s, 'psid-' || g, false, 'Customer ' || g, '', '', '', '', NULL, false, NULL,
                   %(now)s
            FROM generate_series(1, %(n)s) AS g
            """,
            {**ids, "n": conversations, "now": now},
        )
        # Waits spread evenly over the last HOURS hours; every other conversation was answered
        # once before; every third held by one of the agents.
        cursor.execute(
            """
            INSERT INTO messenger_conversation (organization_id, channel_id, department_id, page_id, contact_id,
                                                state, assignee_id, last_inbound_at, last_message_at,
                                                last_message_preview, unread_count, waiting_since,
                                                first_answered_at, created_at, updated_at)
            SELECT %(org)s, %(channel)s, %(department)s, %(page)s, c.id, 'open',
                   CASE WHEN c.id %% 3 = 0 THEN (%(agents)s)[1 + c.id %% %(agent_count)s] END,
                   %(now)s - (c.id %% %(n)s) * (%(hours)s * interval '1 hour' / %(n)s),
                   %(now)s - (c.id %% %(n)s) * (%(hours)s * interval '1 hour' / %(n)s),
                   'Hello', 1,
                   %(now)s - (c.id %% %(n)s) * (%(hours)s * interval '1 hour' / %(n)s),
                   CASE WHEN c.id %% 2 = 0 THEN %(now)s - interval '4 days' END,
                   %(now)s - interval '4 days', %(now)s
            FROM messenger_contact AS c WHERE c.page_id = %(page)s
            """,
            {
                **ids,
                "n": conversations,
                "now": now,
                "hours": HOURS,
                "agents": [agent.user_id for agent in agents],
                "agent_count": len(agents),
            },
        )
    # As autovacuum leaves a table in service: hint bits set and the visibility map written (a
    # first pass over rows fresh from a bulk INSERT would pay for that instead of the job).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) messenger_contact")
        cursor.execute("VACUUM (ANALYZE) messenger_conversation")


def run(*, conversations: int) -> bool:
    from django.urls import get_resolver

    from helpdesk.models import Notification
    from messenger.services.sla import conversations_sla_sweep

    started = time.perf_counter()
    now = _moment()
    _generate(conversations=conversations, now=now)
    generated_in = time.perf_counter() - started
    # The worker that runs the job each minute has its URLs loaded (alerts link to conversations).
    get_resolver().url_patterns  # noqa: B018

    started = time.perf_counter()
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        profile = cProfile.Profile()
        first = profile.runcall(conversations_sla_sweep, now=now)
        pstats.Stats(profile).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(25)
    else:
        first = conversations_sla_sweep(now=now)
    first_seconds = time.perf_counter() - started
    notices = Notification.objects.count()
    started = time.perf_counter()
    second = conversations_sla_sweep(now=now)
    second_seconds = time.perf_counter() - started
    # A minute later, as the beat job runs: the few waits that crossed a time since.
    started = time.perf_counter()
    minute = conversations_sla_sweep(now=now + timedelta(minutes=1))
    minute_seconds = time.perf_counter() - started

    ok = (
        (second.timed, second.warned, second.breached) == (0, 0, 0)
        and first.timed == conversations
        and first_seconds < FIRST_RUN_BUDGET_SECONDS
        and second_seconds < SECOND_RUN_BUDGET_SECONDS
    )
    print(
        f"sla: {'PASS' if ok else 'FAIL'} {conversations:,} open conversations waiting over the last {HOURS} h"
        f" (business-hours policy, now {now:%a %H:%M} UTC); first run timed {first.timed:,},"
        f" warned {first.warned:,}, marked"
        f" {first.breached:,} breached, {notices:,} notices in {first_seconds:.2f} s (budget"
        f" {FIRST_RUN_BUDGET_SECONDS:.0f} s); second run changed"
        f" {second.timed + second.warned + second.breached} in {second_seconds:.3f} s (budget"
        f" {SECOND_RUN_BUDGET_SECONDS:.0f} s); a minute later {minute.warned + minute.breached} in"
        f" {minute_seconds:.3f} s; data generated in {generated_in:.1f} s; load average"
        f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    args = parser.parse_args()
    from bench import database

    return database.in_test_database("sla", lambda: run(conversations=args.conversations))


if __name__ == "__main__":
    sys.exit(main())
