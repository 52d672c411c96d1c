# The ASGI fixtures are imported from tests.asgi; their names are parameters below.
# ruff: noqa: F811
"""With push on, the inbox no longer polls: an open live stream is itself a sign of an open
tab, so that the sweep does not set a member offline whose page only listens to its stream.
The tab's own heartbeat (availability/static/availability/presence.js) keeps beating too."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from availability.models import Availability, AvailabilityChange, ChangeReason, Status
from availability.services import NO_TAB_SECONDS, availability_sweep
from helpdesk.models import Membership
from tests.asgi import AsgiServer, asgi_server, live_redis, open_stream  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db(transaction=True)


def _online_long_ago(membership: Membership) -> Availability:
    long_ago = timezone.now() - timedelta(seconds=NO_TAB_SECONDS + 120)
    return Availability.objects.create(
        organization=membership.organization,
        membership=membership,
        status=Status.ONLINE,
        status_since=long_ago,
        last_seen_at=long_ago,
        last_activity_at=long_ago,
    )


def test_a_member_with_an_open_stream_stays_online_and_one_without_goes_offline(
    asgi_server: AsgiServer, tenant_a: Tenant
) -> None:
    listening = _online_long_ago(tenant_a.agent)
    gone = _online_long_ago(tenant_a.admin)
    before = listening.last_seen_at

    stream = open_stream(asgi_server, tenant_a.agent.user, "alpha")
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            listening.refresh_from_db()
            if listening.last_seen_at != before:
                break
            time.sleep(0.05)
        assert listening.last_seen_at > timezone.now() - timedelta(seconds=10)

        result = availability_sweep()
    finally:
        stream.close()

    listening.refresh_from_db()
    gone.refresh_from_db()
    assert listening.status == Status.ONLINE
    assert (gone.status, result.set_offline) == (Status.OFFLINE, 1)
    spell = AvailabilityChange.objects.get(membership=tenant_a.admin, ended_at__isnull=True)
    assert spell.reason == ChangeReason.NO_TAB


def test_a_stream_does_not_make_an_offline_member_online(asgi_server: AsgiServer, tenant_a: Tenant) -> None:
    """Being seen is not choosing to work: the status stays what the member chose."""
    offline = Availability.objects.create(
        organization=tenant_a.organization,
        membership=tenant_a.agent,
        status=Status.OFFLINE,
        status_since=timezone.now() - timedelta(hours=1),
    )
    stream = open_stream(asgi_server, tenant_a.agent.user, "alpha")
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and offline.last_seen_at is None:
            offline.refresh_from_db()
            time.sleep(0.05)
    finally:
        stream.close()
    assert offline.last_seen_at is not None
    assert offline.status == Status.OFFLINE
