"""Every page and action of the UI has its API (tests/api/ui_api_map.py says which), and every
view of the API stands on the organization-scoped base that gives it rate limits and
Idempotency-Key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from helpdesk.api import _OrganizationScope
from tests.api.ui_api_map import EXEMPT, UI_TO_API

UI_PREFIX = "o/<slug:org_slug>/"
API_PREFIX = "api/v1/"


def _routes(patterns: Any, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, Any]]:
    """(route, `namespace:name`, callback) of every URL, as `reverse()` names them."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else ""
            yield prefix + str(pattern.pattern), name, pattern.callback


def _ui_routes() -> dict[str, str]:
    return {name: route for route, name, _cb in _routes(get_resolver().url_patterns) if route.startswith(UI_PREFIX)}


def _api_routes() -> dict[str, tuple[str, Any]]:
    return {
        name: (route, callback)
        for route, name, callback in _routes(get_resolver().url_patterns)
        if route.startswith(API_PREFIX)
    }


def _shape(path: str) -> str:
    """A route or a schema path with its parameters blanked: `/api/v1/tickets/{}/`."""
    path = re.sub(r"<[^>]+>", "{}", path)
    path = re.sub(r"\{[^}]+\}", "{}", path)
    return "/" + path.lstrip("^/").rstrip("$")


def test_every_ui_route_is_named() -> None:
    unnamed = [
        route for route, name, _cb in _routes(get_resolver().url_patterns) if route.startswith(UI_PREFIX) and not name
    ]
    assert unnamed == []


def test_every_ui_route_has_an_api_or_a_reason_not_to() -> None:
    ui = _ui_routes()
    missing = sorted(name for name in ui if name not in UI_TO_API and name not in EXEMPT)
    assert missing == [], (
        "UI routes with no API endpoint: add each to tests/api/ui_api_map.py (UI_TO_API, or EXEMPT with a reason)"
    )


def test_the_map_names_only_routes_of_the_ui() -> None:
    ui = _ui_routes()
    assert sorted(set(UI_TO_API) - set(ui)) == []
    assert sorted(set(EXEMPT) - set(ui)) == []
    assert set(UI_TO_API) & set(EXEMPT) == set()
    assert all(reason.strip() for reason in EXEMPT.values())


def test_every_mapped_api_route_is_in_the_schema() -> None:
    api = _api_routes()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = {_shape(path) for path in schema["paths"]}
    unknown = sorted({name for names in UI_TO_API.values() for name in names if name not in api})
    assert unknown == [], "API route names that do not exist"
    undocumented = sorted(
        {name for names in UI_TO_API.values() for name in names if _shape(api[name][0]) not in documented}
    )
    assert undocumented == [], "API routes missing from the OpenAPI schema"


def test_every_api_view_has_rate_limits_and_idempotency_keys() -> None:
    """They come from the organization-scoped base (helpdesk.api): a view beside it has neither."""
    outside = sorted(
        name
        for name, (_route, callback) in _api_routes().items()
        if not issubclass(getattr(callback, "cls", object), _OrganizationScope)
    )
    assert outside == []


def test_the_check_fails_for_a_ui_route_left_out(monkeypatch: Any) -> None:
    """The comparison itself: a route taken out of the map is reported."""
    monkeypatch.delitem(UI_TO_API, "tickets:ticket_reply")
    ui = _ui_routes()
    assert [name for name in ui if name not in UI_TO_API and name not in EXEMPT] == ["tickets:ticket_reply"]
