"""The token-expiry sweep over 10,000 linked pages with no /debug_token check due.

    DATABASE_URL=postgres://… .venv/bin/python bench/tokens.py [--pages 10000]

Pages are spread over 100 organizations: most are healthy, some expire within the warning
period, some are past it. The first sweep flags them (and notifies admins); the figure that
matters is a sweep with nothing to check at Facebook, the hourly steady state: target < 1 s.
Ends with one line starting with `tokens:`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "0")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from channels.models import Channel  # noqa: E402
from helpdesk.models import Department, Membership, Organization, Role  # noqa: E402
from messenger.crypto import encrypt_token  # noqa: E402
from messenger.models import FacebookPage  # noqa: E402
from messenger.pages.sweeps import token_expiry_sweep  # noqa: E402

BUDGET_SECONDS = 1.0


def build(pages: int) -> None:
    from django.contrib.auth import get_user_model

    now = timezone.now()
    token = encrypt_token("bench-page-token")
    organizations = Organization.objects.bulk_create(
        [Organization(name=f"Bench {n}", slug=f"bench-{n}") for n in range(100)]
    )
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"bench-admin-{n}", email=f"a{n}@bench.test") for n in range(100)]
    )
    Membership.objects.bulk_create(
        [Membership(organization=o, user=u, role=Role.ADMIN) for o, u in zip(organizations, users, strict=True)]
    )
    departments = Department.objects.bulk_create([Department(organization=o, name="Support") for o in organizations])
    channels = Channel.objects.bulk_create(
        [Channel(organization=d.organization, department=d, name="Messenger") for d in departments]
    )
    rows = []
    for n in range(pages):
        channel = channels[n % len(channels)]
        if n % 50 == 0:
            expires = now + timedelta(days=3)  # expiring soon
        elif n % 97 == 0:
            expires = now - timedelta(days=1)  # expired
        else:
            expires = now + timedelta(days=40)
        rows.append(
            FacebookPage(
                organization_id=channel.organization_id,
                channel=channel,
                page_id=str(500_000_000_000 + n),
                name=f"Page {n}",
                access_token_encrypted=token,
                token_expires_at=expires,
                authorized_at=now - timedelta(days=5),
                # Checked at Facebook a moment ago: no /debug_token call is due.
                token_checked_at=now,
            )
        )
    FacebookPage.objects.bulk_create(rows, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10_000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("tokens: needs PostgreSQL (DATABASE_URL=postgres://…)")
        return 2
    started = time.perf_counter()
    build(args.pages)
    print(f"built {args.pages} pages in {time.perf_counter() - started:.1f} s")
    first_started = time.perf_counter()
    first = token_expiry_sweep()
    first_seconds = time.perf_counter() - first_started
    print(f"first sweep: {first} in {first_seconds:.2f} s")
    steady_started = time.perf_counter()
    steady = token_expiry_sweep()
    steady_seconds = time.perf_counter() - steady_started
    print(f"steady sweep: {steady} in {steady_seconds:.2f} s")
    verdict = "ok" if steady_seconds < BUDGET_SECONDS and steady.checked == 0 else "FAILED"
    print(
        f"tokens: {args.pages} pages · first sweep {first_seconds:.2f} s"
        f" (warned {first.warned}, expired {first.expired})"
        f" · steady sweep {steady_seconds:.2f} s (budget {BUDGET_SECONDS:.0f} s) · debug_token calls {steady.checked}"
        f" · {verdict}"
    )
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
