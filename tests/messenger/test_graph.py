"""The Graph API client, exercised over real HTTP against a scripted local server."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from messenger.graph import (
    SUBSCRIBED_FIELDS,
    AppNotLiveError,
    GraphClient,
    GraphConnectionError,
    GraphError,
    GraphTimeoutError,
    NoMatchingUserError,
    NoProfileError,
    PermissionMissingError,
    RateLimitedError,
    RecipientCannotReceiveError,
    RecipientUnavailableError,
    ThreadOwnedByOtherAppError,
    TokenInvalidError,
    TransientGraphError,
    WindowClosedError,
    dialog_url,
    error_from_response,
)

APP_ID = "app-111"
APP_SECRET = "app-secret-s3cr3t"
PAGE_TOKEN = "EAAG-page-token-xyz"
USER_TOKEN = "EAAG-user-token-abc"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    json: Any


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str]
    delay: float


@dataclass
class GraphServer:
    base_url: str
    requests: list[Recorded] = field(default_factory=list)
    script: deque[Scripted] = field(default_factory=deque)

    def answer(
        self,
        status: int,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.script.append(Scripted(status, body, headers or {}, delay))


def _make_handler(server: GraphServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            server.requests.append(
                Recorded(
                    method=self.command,
                    path=split.path,
                    query={k: v[-1] for k, v in parse_qs(split.query).items()},
                    json=json.loads(raw) if raw else None,
                )
            )
            scripted = (
                server.script.popleft()
                if server.script
                else Scripted(418, {"error": {"message": "nothing scripted"}}, {}, 0.0)
            )
            if scripted.delay:
                time.sleep(scripted.delay)
            body = scripted.body
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            try:
                self.send_response(scripted.status)
                for name, value in scripted.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout tests)
                pass

        do_GET = do_POST = do_DELETE = _handle

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def graph_server() -> Iterator[GraphServer]:
    server = GraphServer(base_url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(server))
    httpd.daemon_threads = True
    server.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(graph_server: GraphServer, sleeps: list[float]) -> Iterator[GraphClient]:
    graph = GraphClient(
        base_url=graph_server.base_url,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        timeout=2.0,
        sleep=sleeps.append,
    )
    yield graph
    graph.close()


def graph_error(code: int, subcode: int | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": "boom",
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "Atrace",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


def assert_no_secrets(exc: BaseException) -> None:
    rendered = str(exc) + repr(exc) + "".join(traceback.format_exception(exc))
    for secret in (PAGE_TOKEN, USER_TOKEN, APP_SECRET):
        assert secret not in rendered


# --------------------------------------------------------------------------- OAuth


def test_exchange_code_sends_app_credentials_and_returns_the_user_token(
    client: GraphClient, graph_server: GraphServer
) -> None:
    graph_server.answer(200, {"access_token": USER_TOKEN, "token_type": "bearer", "expires_in": 5183})

    token = client.exchange_code(code="the-code", redirect_uri="https://desk.example/cb")

    (request,) = graph_server.requests
    assert (request.method, request.path) == ("GET", "/v21.0/oauth/access_token")
    assert request.query == {
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
        "redirect_uri": "https://desk.example/cb",
        "code": "the-code",
    }
    assert (token.access_token, token.token_type, token.expires_in) == (
        USER_TOKEN,
        "bearer",
        5183,
    )
    assert USER_TOKEN not in repr(token)


def test_exchange_code_without_expires_in_gives_none(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(200, {"access_token": USER_TOKEN, "token_type": "bearer"})

    assert client.exchange_code(code="c", redirect_uri="https://x/cb").expires_in is None


def test_exchange_long_lived_uses_the_fb_exchange_token_grant(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(200, {"access_token": "long-one", "token_type": "bearer", "expires_in": 5184000})

    token = client.exchange_long_lived(user_token=USER_TOKEN)

    (request,) = graph_server.requests
    assert request.path == "/v21.0/oauth/access_token"
    assert request.query == {
        "grant_type": "fb_exchange_token",
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
        "fb_exchange_token": USER_TOKEN,
    }
    assert (token.access_token, token.expires_in) == ("long-one", 5184000)


def test_dialog_url_carries_client_redirect_state_scopes_and_response_type() -> None:
    url = dialog_url(
        dialog_base="https://www.facebook.com",
        version="v21.0",
        app_id=APP_ID,
        redirect_uri="https://desk.example/cb?x=1",
        state="csrf-1",
    )

    split = urlsplit(url)
    assert f"{split.scheme}://{split.netloc}{split.path}" == ("https://www.facebook.com/v21.0/dialog/oauth")
    assert "scope=pages_show_list,pages_messaging,pages_manage_metadata,pages_read_engagement" in url
    assert {k: v[0] for k, v in parse_qs(split.query).items()} == {
        "client_id": APP_ID,
        "redirect_uri": "https://desk.example/cb?x=1",
        "state": "csrf-1",
        "scope": "pages_show_list,pages_messaging,pages_manage_metadata,pages_read_engagement",
        "response_type": "code",
    }


# --------------------------------------------------------------------------- pages


def test_list_pages_follows_paging_next_and_returns_every_page(client: GraphClient, graph_server: GraphServer) -> None:
    next_url = f"{graph_server.base_url}/v21.0/me/accounts?access_token={USER_TOKEN}&after=CUR"
    graph_server.answer(
        200,
        {
            "data": [
                {
                    "id": "1",
                    "name": "Bakery",
                    "access_token": "pt-1",
                    "tasks": ["MESSAGING", "MODERATE"],
                    "category": "Food",
                }
            ],
            "paging": {"cursors": {"after": "CUR"}, "next": next_url},
        },
    )
    graph_server.answer(
        200,
        {
            "data": [
                {
                    "id": "2",
                    "name": "Garage",
                    "access_token": "pt-2",
                    "tasks": ["ADVERTISE"],
                    "category": "Auto",
                }
            ],
            "paging": {"cursors": {"before": "CUR"}},
        },
    )

    pages = client.list_pages(user_token=USER_TOKEN)

    assert [(p.id, p.name, p.access_token, p.tasks, p.category) for p in pages] == [
        ("1", "Bakery", "pt-1", ("MESSAGING", "MODERATE"), "Food"),
        ("2", "Garage", "pt-2", ("ADVERTISE",), "Auto"),
    ]
    first, second = graph_server.requests
    assert first.path == "/v21.0/me/accounts"
    assert first.query == {
        "fields": "id,name,access_token,tasks,category",
        "access_token": USER_TOKEN,
    }
    assert second.query == {"access_token": USER_TOKEN, "after": "CUR"}
    assert "pt-1" not in repr(pages)


def test_list_pages_refuses_a_paging_next_on_another_host(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(200, {"data": [], "paging": {"next": "https://evil.example/v21.0/x"}})

    with pytest.raises(GraphError, match="another host"):
        client.list_pages(user_token=USER_TOKEN)
    assert len(graph_server.requests) == 1


def test_list_pages_with_a_malformed_body_raises_a_graph_error(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(200, {"data": ["not-a-page"]})

    with pytest.raises(GraphError, match="malformed"):
        client.list_pages(user_token=USER_TOKEN)


def test_subscribed_apps_lists_each_app_with_its_fields(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(
        200,
        {
            "data": [
                {"id": "111", "name": "Ours", "subscribed_fields": ["messages", "message_echoes"]},
                # Some answers give each field as an object.
                {"id": "222", "name": "Another", "subscribed_fields": [{"name": "messages", "version": "v21.0"}]},
            ]
        },
    )

    apps = client.subscribed_apps(page_id="555", page_token=PAGE_TOKEN)

    (request,) = graph_server.requests
    assert (request.method, request.path) == ("GET", "/v21.0/555/subscribed_apps")
    assert [(app.app_id, app.fields) for app in apps] == [
        ("111", ("messages", "message_echoes")),
        ("222", ("messages",)),
    ]


def test_subscribe_app_posts_every_webhook_field_with_the_page_token(
    client: GraphClient, graph_server: GraphServer, sleeps: list[float]
) -> None:
    graph_server.answer(200, {"success": True})

    client.subscribe_app(page_id="555", page_token=PAGE_TOKEN)

    (request,) = graph_server.requests
    assert (request.method, request.path) == ("POST", "/v21.0/555/subscribed_apps")
    assert request.query == {
        "subscribed_fields": "messages,message_echoes,message_deliveries,message_reads,"
        "messaging_postbacks,message_reactions,message_edits",
        "access_token": PAGE_TOKEN,
    }
    assert request.query["subscribed_fields"] == ",".join(SUBSCRIBED_FIELDS)


def test_subscribe_app_without_success_true_raises(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(200, {"success": False})

    with pytest.raises(GraphError, match="success"):
        client.subscribe_app(page_id="555", page_token=PAGE_TOKEN, fields=("messages",))
    assert graph_server.requests[0].query["subscribed_fields"] == "messages"


def test_unsubscribe_app_sends_delete_with_the_page_token(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(200, {"success": True})

    client.unsubscribe_app(page_id="555", page_token=PAGE_TOKEN)

    (request,) = graph_server.requests
    assert (request.method, request.path, request.query) == (
        "DELETE",
        "/v21.0/555/subscribed_apps",
        {"access_token": PAGE_TOKEN},
    )


def test_the_version_setting_is_used_in_every_path(graph_server: GraphServer) -> None:
    graph_server.answer(200, {"success": True})
    graph = GraphClient(
        base_url=graph_server.base_url + "/",
        app_id=APP_ID,
        app_secret=APP_SECRET,
        version="v19.0",
    )

    graph.unsubscribe_app(page_id="9", page_token=PAGE_TOKEN)

    assert graph_server.requests[0].path == "/v19.0/9/subscribed_apps"


# --------------------------------------------------------------------------- debug_token


def test_debug_token_sends_the_app_token_and_parses_a_valid_token(
    client: GraphClient, graph_server: GraphServer
) -> None:
    graph_server.answer(
        200,
        {
            "data": {
                "app_id": APP_ID,
                "type": "PAGE",
                "application": "Desk",
                "is_valid": True,
                "expires_at": 1767225600,
                "data_access_expires_at": 1774915200,
                "scopes": ["pages_show_list", "pages_messaging"],
                "user_id": "42",
            }
        },
    )

    info = client.debug_token(input_token=PAGE_TOKEN)

    (request,) = graph_server.requests
    assert request.path == "/v21.0/debug_token"
    assert request.query == {
        "input_token": PAGE_TOKEN,
        "access_token": f"{APP_ID}|{APP_SECRET}",
    }
    assert info.is_valid is True
    assert (info.app_id, info.type, info.user_id) == (APP_ID, "PAGE", "42")
    assert info.expires_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert info.data_access_expires_at == datetime(2026, 3, 31, tzinfo=UTC)
    assert info.scopes == ("pages_show_list", "pages_messaging")
    assert (info.error_code, info.error_subcode, info.error_message) == (
        None,
        None,
        None,
    )


def test_debug_token_expires_at_zero_means_never(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(
        200,
        {
            "data": {
                "app_id": APP_ID,
                "type": "PAGE",
                "is_valid": True,
                "expires_at": 0,
                "scopes": [],
            }
        },
    )

    info = client.debug_token(input_token=PAGE_TOKEN)

    assert info.expires_at is None
    assert info.data_access_expires_at is None
    assert info.user_id is None


def test_debug_token_of_an_invalid_token_returns_its_error(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(
        200,
        {
            "data": {
                "app_id": APP_ID,
                "type": "USER",
                "is_valid": False,
                "expires_at": 1700000000,
                "scopes": [],
                "error": {
                    "code": 190,
                    "subcode": 460,
                    "message": f"The session {PAGE_TOKEN} has been invalidated",
                },
            }
        },
    )

    info = client.debug_token(input_token=PAGE_TOKEN)

    assert info.is_valid is False
    assert (info.error_code, info.error_subcode) == (190, 460)
    assert info.error_message == "The session [redacted] has been invalidated"


def test_debug_token_error_never_shows_the_app_secret(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(400, graph_error(190, message=f"Bad app token {APP_ID}|{APP_SECRET}"))

    with pytest.raises(TokenInvalidError) as caught:
        client.debug_token(input_token=PAGE_TOKEN)
    assert_no_secrets(caught.value)
    assert "[redacted]" in caught.value.message


# --------------------------------------------------------------------------- profile


def test_get_profile_asks_for_names_and_picture(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(200, {"first_name": "Ana", "last_name": "Lima", "id": "77"})

    profile = client.get_profile(psid="77", page_token=PAGE_TOKEN)

    (request,) = graph_server.requests
    assert (request.method, request.path) == ("GET", "/v21.0/77")
    assert request.query == {
        "fields": "name,first_name,last_name,profile_pic",
        "access_token": PAGE_TOKEN,
    }
    assert (profile.first_name, profile.last_name, profile.profile_pic) == (
        "Ana",
        "Lima",
        None,
    )


def test_get_profile_without_a_profile_raises_no_profile(
    client: GraphClient, graph_server: GraphServer, sleeps: list[float]
) -> None:
    graph_server.answer(400, graph_error(100, 2018218))

    with pytest.raises(NoProfileError) as caught:
        client.get_profile(psid="77", page_token=PAGE_TOKEN)
    assert caught.value.reason == "no_profile"
    assert len(graph_server.requests) == 1 and sleeps == []


# --------------------------------------------------------------------------- Send API


def test_send_message_posts_the_json_body_with_the_token_in_the_query(
    client: GraphClient, graph_server: GraphServer
) -> None:
    graph_server.answer(200, {"recipient_id": "77", "message_id": "m_abc"})

    result = client.send_message(
        page_id="555",
        page_token=PAGE_TOKEN,
        recipient_psid="77",
        message={"text": "Olá"},
    )

    (request,) = graph_server.requests
    assert (request.method, request.path) == ("POST", "/v21.0/555/messages")
    assert request.query == {"access_token": PAGE_TOKEN}
    assert request.json == {
        "recipient": {"id": "77"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Olá"},
    }
    assert (result.recipient_id, result.message_id) == ("77", "m_abc")


def test_send_message_with_human_agent_tag_sends_tag_and_metadata(
    client: GraphClient, graph_server: GraphServer
) -> None:
    graph_server.answer(200, {"recipient_id": "77", "message_id": "m_def"})

    client.send_message(
        page_id="555",
        page_token=PAGE_TOKEN,
        recipient_psid="77",
        message={"text": "hi"},
        messaging_type="MESSAGE_TAG",
        tag="HUMAN_AGENT",
        metadata="desk-msg-9",
    )

    assert graph_server.requests[0].json == {
        "recipient": {"id": "77"},
        "messaging_type": "MESSAGE_TAG",
        "message": {"text": "hi"},
        "tag": "HUMAN_AGENT",
        "metadata": "desk-msg-9",
    }


@pytest.mark.parametrize(
    ("messaging_type", "tag"),
    [
        ("MESSAGE_TAG", "ACCOUNT_UPDATE"),
        ("MESSAGE_TAG", "POST_PURCHASE_UPDATE"),
        ("MESSAGE_TAG", None),
        ("NON_PROMOTIONAL_SUBSCRIPTION", None),
        ("RESPONSE", "HUMAN_AGENT"),
    ],
)
def test_send_message_refuses_retired_tags_and_unknown_types_before_calling(
    client: GraphClient, graph_server: GraphServer, messaging_type: str, tag: str | None
) -> None:
    with pytest.raises(ValueError):
        client.send_message(
            page_id="555",
            page_token=PAGE_TOKEN,
            recipient_psid="77",
            message={"text": "hi"},
            messaging_type=messaging_type,
            tag=tag,
        )
    assert graph_server.requests == []


def test_send_sender_action_posts_the_action(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(200, {"recipient_id": "77"})

    client.send_sender_action(page_id="555", page_token=PAGE_TOKEN, recipient_psid="77", action="typing_on")

    (request,) = graph_server.requests
    assert (request.path, request.query) == (
        "/v21.0/555/messages",
        {"access_token": PAGE_TOKEN},
    )
    assert request.json == {"recipient": {"id": "77"}, "sender_action": "typing_on"}


def test_send_sender_action_refuses_an_unknown_action(client: GraphClient, graph_server: GraphServer) -> None:
    with pytest.raises(ValueError):
        client.send_sender_action(
            page_id="555",
            page_token=PAGE_TOKEN,
            recipient_psid="77",
            action="typing_maybe",
        )
    assert graph_server.requests == []


def test_a_send_error_is_parsed_and_never_shows_the_page_token(client: GraphClient, graph_server: GraphServer) -> None:
    graph_server.answer(
        400,
        graph_error(
            10,
            2018278,
            message=f"Outside the window for {PAGE_TOKEN}",
            error_user_title="Message not sent",
            error_user_msg="Window closed",
        ),
    )

    with pytest.raises(WindowClosedError) as caught:
        client.send_message(
            page_id="555",
            page_token=PAGE_TOKEN,
            recipient_psid="77",
            message={"text": "late"},
        )

    error = caught.value
    assert (error.code, error.subcode, error.http_status) == (10, 2018278, 400)
    assert (error.error_type, error.fbtrace_id) == ("OAuthException", "Atrace")
    assert (error.user_title, error.user_msg) == ("Message not sent", "Window closed")
    assert error.reason == "reply_window_closed" and error.retryable is False
    assert_no_secrets(error)


# --------------------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("subcode", "reason"),
    [
        (458, "app_access_revoked"),
        (459, "user_checkpoint"),
        (460, "password_changed"),
        (463, "token_expired"),
        (464, "user_unconfirmed"),
        (467, "session_invalid"),
        (492, "page_role_lost"),
        (493, "user_inactive"),
        (None, "token_invalid"),
        (12345, "token_invalid"),
    ],
)
def test_error_190_reason_follows_its_subcode(subcode: int | None, reason: str) -> None:
    error = error_from_response(400, graph_error(190, subcode))

    assert type(error) is TokenInvalidError
    assert error.reason == reason
    assert error.needs_reauthorization and not error.retryable


def test_error_190_with_subcode_463_is_token_expired() -> None:
    error = error_from_response(400, graph_error(190, 463))

    assert isinstance(error, TokenInvalidError) and error.reason == "token_expired"
    assert TokenInvalidError.reason == "token_invalid"  # the class default is untouched


@pytest.mark.parametrize(
    ("status", "code", "subcode", "expected", "reason", "retryable"),
    [
        (400, 10, 2018278, WindowClosedError, "reply_window_closed", False),
        (400, 10, 2534022, WindowClosedError, "reply_window_closed", False),
        (400, 10, 2018065, WindowClosedError, "reply_window_closed", False),
        (
            400,
            10,
            2018108,
            RecipientCannotReceiveError,
            "recipient_cannot_receive",
            False,
        ),
        (400, 551, None, RecipientUnavailableError, "recipient_unavailable", False),
        (400, 551, 1545041, RecipientUnavailableError, "recipient_unavailable", False),
        (400, 200, 2018028, AppNotLiveError, "app_not_live", False),
        (400, 100, 2018001, NoMatchingUserError, "no_matching_user", False),
        (
            400,
            10,
            2018300,
            ThreadOwnedByOtherAppError,
            "thread_owned_by_other_app",
            False,
        ),
        (
            400,
            2018300,
            None,
            ThreadOwnedByOtherAppError,
            "thread_owned_by_other_app",
            False,
        ),
        (400, 100, 2018218, NoProfileError, "no_profile", False),
        (400, 10, None, PermissionMissingError, "permissions_revoked", False),
        (403, 200, None, PermissionMissingError, "permissions_revoked", False),
        (400, 4, None, RateLimitedError, "rate_limited", True),
        (400, 17, 2446079, RateLimitedError, "rate_limited", True),
        (400, 32, None, RateLimitedError, "rate_limited", True),
        (400, 613, None, RateLimitedError, "rate_limited", True),
        (400, 80001, None, RateLimitedError, "rate_limited", True),
        (500, 1, None, TransientGraphError, "graph_transient", True),
        (500, 2, None, TransientGraphError, "graph_transient", True),
        (500, 1200, None, TransientGraphError, "graph_transient", True),
        (503, 9999, None, TransientGraphError, "graph_transient", True),
        (400, 100, None, GraphError, "graph_error", False),
    ],
)
def test_each_documented_error_maps_to_its_class_and_reason(
    status: int,
    code: int,
    subcode: int | None,
    expected: type[GraphError],
    reason: str,
    retryable: bool,
) -> None:
    error = error_from_response(status, graph_error(code, subcode))

    assert type(error) is expected
    assert (error.reason, error.retryable) == (reason, retryable)
    assert (error.code, error.subcode, error.http_status) == (code, subcode, status)


def test_an_unknown_code_flagged_is_transient_is_retryable() -> None:
    error = error_from_response(400, graph_error(9999, is_transient=True))

    assert type(error) is TransientGraphError and error.is_transient and error.retryable


def test_string_codes_are_understood() -> None:
    error = error_from_response(400, {"error": {"code": "10", "error_subcode": "2018278"}})

    assert type(error) is WindowClosedError and error.subcode == 2018278


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, None, GraphError),
        (404, "Not Found", GraphError),
        (200, [1, 2], GraphError),
        (502, None, TransientGraphError),
        (500, {"error": "oops"}, TransientGraphError),
    ],
)
def test_a_body_without_a_graph_error_maps_by_status(status: int, body: object, expected: type[GraphError]) -> None:
    error = error_from_response(status, body)

    assert type(error) is expected and error.http_status == status and error.code is None


def test_a_non_json_error_page_over_http_is_a_plain_graph_error(
    client: GraphClient, graph_server: GraphServer, sleeps: list[float]
) -> None:
    graph_server.answer(404, "<html>Not Found</html>")

    with pytest.raises(GraphError) as caught:
        client.get_profile(psid="77", page_token=PAGE_TOKEN)
    assert type(caught.value) is GraphError and caught.value.http_status == 404
    assert len(graph_server.requests) == 1 and sleeps == []


# --------------------------------------------------------------------------- retries


def test_a_get_is_retried_after_500_and_613_then_succeeds(
    client: GraphClient, graph_server: GraphServer, sleeps: list[float]
) -> None:
    graph_server.answer(500, "Internal Server Error")
    graph_server.answer(400, graph_error(613))
    graph_server.answer(200, {"first_name": "Ana", "last_name": "Lima"})

    profile = client.get_profile(psid="77", page_token=PAGE_TOKEN)

    assert profile.first_name == "Ana"
    assert len(graph_server.requests) == 3
    assert sleeps == [pytest.approx(0.2), pytest.approx(0.4)]


def test_a_get_gives_up_after_max_get_retries(
    client: GraphClient, graph_server: GraphServer, sleeps: list[float]
) -> None:
    for _ in range(4):
        graph_server.answer(400, graph_error(4))

    with pytest.raises(RateLimitedError):
        client.get_profile(psid="77", page_token=PAGE_TOKEN)
    assert len(graph_server.requests) == 3
    assert len(sleeps) == 2


def test_a_get_is_not_retried_on_a_non_retryable_error(
    client: GraphClient, graph_server: GraphServer, sleeps: list[float]
) -> None:
    graph_server.answer(400, graph_error(190, 460))

    with pytest.raises(TokenInvalidError):
        client.list_pages(user_token=USER_TOKEN)
    assert len(graph_server.requests) == 1 and sleeps == []


def test_a_post_is_never_retried_even_on_500(
    client: GraphClient, graph_server: GraphServer, sleeps: list[float]
) -> None:
    graph_server.answer(500, graph_error(2, is_transient=True))
    graph_server.answer(200, {"recipient_id": "77", "message_id": "m_dup"})

    with pytest.raises(TransientGraphError) as caught:
        client.send_message(
            page_id="555",
            page_token=PAGE_TOKEN,
            recipient_psid="77",
            message={"text": "hi"},
        )
    assert caught.value.retryable
    assert len(graph_server.requests) == 1 and sleeps == []


def test_a_delete_is_never_retried(client: GraphClient, graph_server: GraphServer, sleeps: list[float]) -> None:
    graph_server.answer(503, "unavailable")

    with pytest.raises(TransientGraphError):
        client.unsubscribe_app(page_id="555", page_token=PAGE_TOKEN)
    assert len(graph_server.requests) == 1 and sleeps == []


def test_retry_after_is_honoured_when_sleeping(
    client: GraphClient, graph_server: GraphServer, sleeps: list[float]
) -> None:
    graph_server.answer(400, graph_error(32), headers={"Retry-After": "3"})
    graph_server.answer(200, {"first_name": "Ana"})

    client.get_profile(psid="77", page_token=PAGE_TOKEN)

    assert sleeps == [3.0]
    assert len(graph_server.requests) == 2


def test_a_long_retry_after_is_left_to_the_caller(
    client: GraphClient, graph_server: GraphServer, sleeps: list[float]
) -> None:
    graph_server.answer(400, graph_error(80001), headers={"Retry-After": "600"})

    with pytest.raises(RateLimitedError) as caught:
        client.get_profile(psid="77", page_token=PAGE_TOKEN)
    assert caught.value.retry_after == 600.0
    assert sleeps == [] and len(graph_server.requests) == 1


def test_a_slow_answer_raises_graph_timeout_without_the_token(graph_server: GraphServer, sleeps: list[float]) -> None:
    graph_server.answer(200, {"first_name": "late"}, delay=0.5)
    graph = GraphClient(
        base_url=graph_server.base_url,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        timeout=0.05,
        max_get_retries=0,
        sleep=sleeps.append,
    )

    with pytest.raises(GraphTimeoutError) as caught:
        graph.get_profile(psid="77", page_token=PAGE_TOKEN)
    assert isinstance(caught.value, TransientGraphError) and caught.value.retryable
    assert caught.value.reason == "graph_timeout"
    assert_no_secrets(caught.value)


def test_a_timed_out_send_is_not_retried(graph_server: GraphServer, sleeps: list[float]) -> None:
    graph_server.answer(200, {"recipient_id": "77", "message_id": "m_x"}, delay=0.5)
    graph = GraphClient(
        base_url=graph_server.base_url,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        timeout=0.05,
        sleep=sleeps.append,
    )

    with pytest.raises(GraphTimeoutError):
        graph.send_message(
            page_id="555",
            page_token=PAGE_TOKEN,
            recipient_psid="77",
            message={"text": "hi"},
        )
    assert len(graph_server.requests) == 1 and sleeps == []


def test_a_refused_connection_is_a_connection_error_without_the_token(
    sleeps: list[float],
) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    graph = GraphClient(
        base_url=f"http://127.0.0.1:{port}",
        app_id=APP_ID,
        app_secret=APP_SECRET,
        timeout=1.0,
        sleep=sleeps.append,
    )

    with pytest.raises(GraphConnectionError) as caught:
        graph.get_profile(psid="77", page_token=PAGE_TOKEN)
    assert caught.value.reason == "graph_connection"
    assert len(sleeps) == 2  # a GET is retried on connection failures too
    assert_no_secrets(caught.value)


def test_debug_log_lines_name_the_path_but_no_token(
    client: GraphClient, graph_server: GraphServer, caplog: pytest.LogCaptureFixture
) -> None:
    graph_server.answer(200, {"data": {"app_id": APP_ID, "type": "PAGE", "is_valid": True}})

    with caplog.at_level(logging.DEBUG, logger="messenger.graph"):
        client.debug_token(input_token=PAGE_TOKEN)

    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("messenger.graph."))
    assert "/v21.0/debug_token" in logged
    assert PAGE_TOKEN not in logged and APP_SECRET not in logged


def test_the_client_repr_hides_the_app_secret(client: GraphClient) -> None:
    assert APP_SECRET not in repr(client)
