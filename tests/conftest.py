"""Shared fixtures: two organizations, A and B; B's members must never see A's data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import translation
from rest_framework.test import APIClient

from channels.hours import departments_with_business_hours_forget
from helpdesk.models import Department, Membership, Organization, Role
from helpdesk.services import api_token_create
from tests import factories

# Each test process has its own live event streams in Redis (the databases of two workers
# give the same ids to different organizations).
settings.LIVE_KEY_PREFIX = f"live-test-{uuid.uuid4().hex[:12]}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The embedded defaults' test database is a file (settings): Django deletes it at the end,
    but a connection still open in another thread (a live server's) leaves its -wal and -shm."""
    for database in settings.DATABASES.values():
        name = str(database.get("TEST", {}).get("NAME") or "")
        if database["ENGINE"] != "django.db.backends.sqlite3" or not name or name.startswith("file:"):
            continue
        if not Path(name).exists():
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{name}{suffix}").unlink(missing_ok=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing browser test's report carries what its pages did (tests.chromium)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and item.get_closest_marker("browser"):
        from tests.chromium import page_logs_report

        report.sections.append(("browser pages", page_logs_report()))


@pytest.fixture(scope="session", autouse=True)
def _quick_password_hasher() -> Iterator[None]:
    """Nearly every test makes members with a password (tests.factories) and many sign in: at
    about a second a hash, the production hasher's deliberate slowness was most of the suite's
    time. The tests prove who may sign in, not how Django hashes."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _isolated_cache(settings: Any) -> None:
    """A cache of the test's own: what one test leaves there (a drain requested, a throttle's
    count) never reaches the next, whose rows may have the same ids."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


@pytest.fixture(autouse=True)
def _api_rate_limit_out_of_the_way(settings: Any) -> None:
    """The walks over every route (tenant isolation, visibility) send hundreds of requests
    with one token within a minute; tests/api/test_rate_limits.py sets its own limits."""
    settings.API_RATE_LIMIT = 100_000


@pytest.fixture(autouse=True)
def _business_hours_forgotten() -> Iterator[None]:
    """The departments with business hours are kept in the process for a while
    (channels.hours): each test starts without the previous test's."""
    departments_with_business_hours_forget()
    yield
    departments_with_business_hours_forget()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """A request leaves its language active in the thread (Django resets it on the next request
    only): a test after one of a Japanese organization must not start in Japanese."""
    yield
    translation.deactivate()


@dataclass
class Tenant:
    organization: Organization
    department: Department
    admin: Membership
    agent: Membership


def _tenant(slug: str) -> Tenant:
    organization = factories.make_org(slug)
    department = factories.make_department(organization, "Support")
    admin = factories.make_member(organization, role=Role.ADMIN, username=f"{slug}-admin", departments=[department])
    agent = factories.make_member(organization, role=Role.AGENT, username=f"{slug}-agent", departments=[department])
    return Tenant(organization, department, admin, agent)


@pytest.fixture
def tenant_a(db: Any) -> Tenant:
    return _tenant("alpha")


@pytest.fixture
def tenant_b(db: Any) -> Tenant:
    return _tenant("bravo")


def api_client_for(membership: Membership) -> APIClient:
    """An API client authenticated with a fresh token of this membership."""
    _token, key = api_token_create(membership=membership, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def web_client_for(client: Any) -> Any:
    def login(membership: Membership) -> Any:
        client.force_login(membership.user)
        return client

    return login
