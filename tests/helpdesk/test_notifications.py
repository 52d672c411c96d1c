"""Notifications: opening one marks it read, "Mark all as read" (a POST with its CSRF token),
the bell's count follows, and nobody reaches another person's notification."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from helpdesk.models import Notification
from helpdesk.services import notification_create
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


def _notify(tenant: Tenant, *titles: str, url: str = "/o/alpha/inbox/") -> list[Notification]:
    for title in titles:
        notification_create(
            organization=tenant.organization,
            user_ids=[tenant.agent.user.pk],
            kind="new_conversation",
            title=title,
            url=url,
        )
    return list(Notification.objects.filter(user=tenant.agent.user).order_by("id"))


def _bell(client: Any) -> str:
    return client.get("/o/alpha/notifications/badge/").content.decode()


def test_opening_a_notification_marks_it_read_and_goes_where_it_points(tenant_a: Tenant, web_client_for: Any) -> None:
    first, _second, _third = _notify(tenant_a, "New conversation with Aiko", "Two", "Three")
    client = web_client_for(tenant_a.agent)
    assert ">3<" in _bell(client)
    page = client.get("/o/alpha/notifications/").content.decode()
    assert f'href="/o/alpha/notifications/{first.pk}/"' in page

    response = client.get(f"/o/alpha/notifications/{first.pk}/")
    assert response.status_code == 302
    assert response["Location"] == "/o/alpha/inbox/"
    first.refresh_from_db()
    assert first.read_at is not None
    assert ">2<" in _bell(client)


def test_a_notification_pointing_outside_the_helpdesk_opens_the_notifications_page(
    tenant_a: Tenant, web_client_for: Any
) -> None:
    (notice,) = _notify(tenant_a, "Odd", url="https://elsewhere.example/phish")
    response = web_client_for(tenant_a.agent).get(f"/o/alpha/notifications/{notice.pk}/")
    assert response["Location"] == "/o/alpha/notifications/"
    notice.refresh_from_db()
    assert notice.read_at is not None


def test_nobody_opens_another_persons_notification(tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any) -> None:
    (notice,) = _notify(tenant_a, "Mine")
    assert web_client_for(tenant_a.admin).get(f"/o/alpha/notifications/{notice.pk}/").status_code == 404
    assert web_client_for(tenant_b.agent).get(f"/o/bravo/notifications/{notice.pk}/").status_code == 404
    assert web_client_for(tenant_a.agent).get("/o/alpha/notifications/junk/").status_code == 404
    notice.refresh_from_db()
    assert notice.read_at is None


def test_mark_all_as_read_is_a_post_with_its_csrf_token_and_empties_the_bell(tenant_a: Tenant) -> None:
    _notify(tenant_a, "One", "Two", "Three")
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant_a.agent.user)
    page = client.get("/o/alpha/notifications/").content.decode().split('<main id="main"', 1)[1]
    form = re.search(
        r'<form method="post" action="([^"]+)">\s*<input type="hidden" name="csrfmiddlewaretoken" '
        r'value="([^"]+)">\s*<button[^>]*>.*?Mark all as read</button>',
        page,
        flags=re.S,
    )
    assert form, page
    action, token = form.groups()
    assert action == "/o/alpha/notifications/read/"

    assert client.get(action).status_code == 405
    assert client.post(action).status_code == 403  # no CSRF token
    response = client.post(action, {"csrfmiddlewaretoken": token}, follow=True)
    assert response.redirect_chain[-1][0] == "/o/alpha/notifications/"
    assert "All notifications are marked as read." in response.content.decode()
    assert not Notification.objects.filter(user=tenant_a.agent.user, read_at__isnull=True).exists()
    assert "unread notifications" not in _bell(client)
    # Nothing left to mark: no button.
    assert "Mark all as read" not in client.get("/o/alpha/notifications/").content.decode()


def test_mark_all_as_read_leaves_other_peoples_notifications_alone(tenant_a: Tenant, web_client_for: Any) -> None:
    _notify(tenant_a, "Agent's")
    notification_create(
        organization=tenant_a.organization, user_ids=[tenant_a.admin.user.pk], kind="x", title="Admin's"
    )
    web_client_for(tenant_a.agent).post("/o/alpha/notifications/read/")
    assert Notification.objects.get(title="Admin's").read_at is None
    assert Notification.objects.get(title="Agent's").read_at is not None


def test_the_api_marks_one_notification_read_or_all(tenant_a: Tenant) -> None:
    first, second = _notify(tenant_a, "One", "Two")
    api = api_client_for(tenant_a.agent)
    assert api.post("/api/v1/notifications/mark-read/", {"ids": [first.pk]}, format="json").json() == {"marked": 1}
    unread = [n["id"] for n in api.get("/api/v1/notifications/").json()["results"] if n["read_at"] is None]
    assert unread == [second.pk]
    assert api.post("/api/v1/notifications/mark-read/", {}, format="json").json() == {"marked": 1}
