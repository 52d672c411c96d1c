"""Walks every conversation-, message-, attachment-, contact- and ticket-level route (HTML and
API, every method the route allows) as agents of the SAME organization who may not see the
channel (channels.visibility): each gets 404, nothing changes. The routes are found in
Django's resolver, so a route added later is walked by itself; an agent who may see the
channel opens the same routes (the walk cannot pass by reaching nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from channels.models import Channel
from helpdesk.models import Membership, Role
from messenger.models import Contact, Conversation, ConversationEvent, Direction, Message, MessageStatus
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.routes import fill_route, iter_routes, route_params
from tickets.models import Ticket
from tickets.services import ticket_create_from_conversation

MARKER = "HIDDENCHANNELSECRET"

# Which kind of object each parameter names; `pk` by the API router's prefix.
ID_PARAMETERS = {
    "conversation_id": "conversation",
    "message_id": "message",
    "contact_id": "contact",
    "ticket_id": "ticket",
}
API_PK_PREFIXES = {
    "api/v1/conversations/": "conversation",
    "api/v1/messages/": "message",
    "api/v1/contacts/": "contact",
    "api/v1/tickets/": "ticket",
}
METHODS = ("get", "post", "patch", "put", "delete")
# What a write would carry if it got through: enough for the actions to succeed (a reply,
# an assignment, a forward to a channel, a ticket change), so that only visibility stops them.
FORM_DATA = {"text": f"{MARKER} reply", "action": "state", "state": "pending", "note": ""}
API_DATA = {"text": f"{MARKER} reply", "assignee_id": None, "state": "pending", "priority": "high", "note": ""}
# Today's count is 27: a walk that finds far fewer has stopped seeing the routes.
MIN_ROUTES = 25


def _kind_of(route: str, name: str) -> str | None:
    if name in ID_PARAMETERS:
        return ID_PARAMETERS[name]
    if name == "pk":
        return next((kind for prefix, kind in API_PK_PREFIXES.items() if route.startswith(prefix)), None)
    return None


def object_routes() -> list[str]:
    """Every route that names a conversation, message, contact or ticket."""
    return [
        route
        for route in iter_routes()
        if any(_kind_of(route, name) for name in route_params(route))
        and not route.startswith(("static/", "media/", "sandbox/"))
    ]


@dataclass
class HiddenChannel:
    """A channel of organization A with one of everything filed under it."""

    channel: Channel
    conversation: Conversation
    contact: Contact
    messages: list[Message]
    ticket: Ticket
    own_channel: Channel

    def ids(self, kind: str) -> list[str]:
        by_kind: dict[str, list[Any]] = {
            "conversation": [self.conversation.pk],
            "message": [m.pk for m in self.messages],
            "contact": [self.contact.pk],
            "ticket": [self.ticket.pk],
        }
        return [str(pk) for pk in by_kind[kind]]

    def urls(self, route: str) -> list[str]:
        """The route filled with each id of its kind (several for messages: the text, the
        attachment, the failed reply, so that every message route can reach its own)."""
        names = route_params(route)
        kind = next(k for k in (_kind_of(route, name) for name in names) if k)
        return [
            fill_route(
                route,
                {
                    name: "alpha" if name == "org_slug" else candidate if _kind_of(route, name) else "0"
                    for name in names
                },
            )
            for candidate in self.ids(kind)
        ]


@pytest.fixture
def hidden(tenant_a: Tenant, settings: Any, tmp_path: Any) -> HiddenChannel:
    settings.MEDIA_ROOT = tmp_path / "media"
    organization, support = tenant_a.organization, tenant_a.department
    channel = factories.make_channel(organization, support, name="Hidden")
    own_channel = factories.make_channel(organization, support, name="Own")
    page = factories.make_page(channel)
    contact = factories.make_contact(page, display_name=f"{MARKER} customer")
    # Their kept picture (messenger.services.contacts): served only to whoever sees the contact.
    avatar = default_storage.save(
        f"messenger/avatars/alpha/{contact.pk}.png", ContentFile(b"\x89PNG" + MARKER.encode())
    )
    Contact.objects.filter(pk=contact.pk).update(avatar_stored_name=avatar)
    conversation = factories.make_conversation(page, contact)
    text = factories.make_message(conversation, text=f"{MARKER} message")
    stored_name = default_storage.save("messenger/inbound/alpha/hidden.png", ContentFile(MARKER.encode()))
    attachment = factories.make_message(
        conversation,
        text="",
        kind="attachment",
        attachments=[
            {"type": "image", "url": "https://cdn.example/h.png", "stored_name": stored_name, "size": len(MARKER)}
        ],
    )
    ticket = ticket_create_from_conversation(
        organization=organization,
        acting_user=tenant_a.admin.user,
        membership=tenant_a.admin,
        conversation_id=conversation.pk,
    )
    failed = factories.make_message(
        conversation,
        text=f"{MARKER} failed reply",
        direction=Direction.OUTBOUND,
        status=MessageStatus.FAILED,
        author=tenant_a.admin.user,
    )
    return HiddenChannel(channel, conversation, contact, [text, attachment, failed], ticket, own_channel)


@pytest.fixture
def outsider(tenant_a: Tenant, hidden: HiddenChannel) -> Membership:
    """In the channel's department, associated with another channel of it, not with this one."""
    member = factories.make_member(
        tenant_a.organization, role=Role.AGENT, username="outsider", departments=[tenant_a.department]
    )
    factories.associate(member, hidden.own_channel)
    return member


@pytest.fixture
def departed(tenant_a: Tenant, hidden: HiddenChannel) -> Membership:
    """Associated with the channel, but no longer working in its department (an association
    left behind: the rule alone must keep them out)."""
    sales = factories.make_department(tenant_a.organization, "Sales")
    member = factories.make_member(tenant_a.organization, role=Role.AGENT, username="departed", departments=[sales])
    factories.associate(member, hidden.channel)
    return member


@pytest.fixture
def insider(tenant_a: Tenant, hidden: HiddenChannel) -> Membership:
    member = factories.make_member(
        tenant_a.organization, role=Role.AGENT, username="insider", departments=[tenant_a.department]
    )
    factories.associate(member, hidden.channel)
    return member


def _request(client: Any, method: str, url: str, *, api: bool) -> Any:
    if method == "get":
        return client.get(url)
    if api:
        return getattr(client, method)(url, API_DATA, format="json")
    if method == "post":
        return client.post(url, FORM_DATA)
    return getattr(client, method)(url)


def _state(hidden: HiddenChannel) -> tuple[Any, ...]:
    conversation = Conversation.objects.get(pk=hidden.conversation.pk)
    ticket = Ticket.objects.get(pk=hidden.ticket.pk)
    return (
        conversation.channel_id,
        conversation.state,
        conversation.assignee_id,
        Contact.objects.get(pk=hidden.contact.pk).is_blocked,
        sorted(Message.objects.filter(conversation=conversation).values_list("pk", "status")),
        ConversationEvent.objects.filter(conversation=conversation).count(),
        Ticket.objects.count(),
        (ticket.state, ticket.priority, ticket.assignee_id),
    )


def _walk_expecting_404(member: Membership, hidden: HiddenChannel) -> tuple[int, list[str]]:
    web = Client()
    web.force_login(member.user)
    api = api_client_for(member)
    before = _state(hidden)
    failures: list[str] = []
    routes = object_routes()
    for route in routes:
        is_api = route.startswith("api/")
        client = api if is_api else web
        allowed = 0
        for url in hidden.urls(route):
            for method in METHODS:
                response = _request(client, method, url, api=is_api)
                if response.status_code == 405:
                    continue
                allowed += 1
                body = b"".join(response.streaming_content) if response.streaming else response.content
                if response.status_code != 404:
                    failures.append(f"{method.upper()} {url} answered {response.status_code}")
                elif MARKER.encode() in body:
                    failures.append(f"{method.upper()} {url} leaked the channel's data")
        if not allowed:
            failures.append(f"{route}: every method answered 405, the walk reached nothing")
    if _state(hidden) != before:
        failures.append(f"the walk changed something: {before} became {_state(hidden)}")
    return len(routes), failures


def test_the_walk_finds_the_object_routes_of_every_area() -> None:
    routes = object_routes()
    assert len(routes) >= MIN_ROUTES, routes
    for expected in (
        "api/v1/conversations/<id:conversation_id>/convert/",
        "api/v1/conversations/<id:pk>/messages/",
        "api/v1/messages/<id:pk>/attachments/<int:index>/",
        "api/v1/tickets/<id:pk>/",
        "o/<slug:org_slug>/tickets/convert/<id:conversation_id>/",
        "o/<slug:org_slug>/tickets/contact/<id:contact_id>/",
        "o/<slug:org_slug>/inbox/messages/<id:message_id>/attachments/<int:index>/",
    ):
        assert expected in routes


@pytest.mark.django_db
def test_an_agent_of_the_department_not_associated_with_the_channel_gets_404_everywhere(
    hidden: HiddenChannel, outsider: Membership
) -> None:
    visited, failures = _walk_expecting_404(outsider, hidden)
    assert visited >= MIN_ROUTES
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_an_agent_associated_with_the_channel_but_out_of_its_department_gets_404_everywhere(
    hidden: HiddenChannel, departed: Membership
) -> None:
    visited, failures = _walk_expecting_404(departed, hidden)
    assert visited >= MIN_ROUTES
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_an_agent_associated_with_the_channel_in_its_department_opens_every_route(
    hidden: HiddenChannel, insider: Membership
) -> None:
    """The positive control: the same routes and ids do reach the data for whoever may see it."""
    web = Client()
    web.force_login(insider.user)
    api = api_client_for(insider)
    readable, failures = 0, []
    for route in object_routes():
        is_api = route.startswith("api/")
        statuses = [(api if is_api else web).get(url).status_code for url in hidden.urls(route)]
        if statuses == [405] * len(statuses):
            continue  # a write-only route
        readable += 1
        if 200 not in statuses:
            failures.append(f"GET {route} answered {statuses}")
    assert readable >= 9
    assert not failures, "\n".join(failures)
