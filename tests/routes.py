"""The URL walk shared by the access tests: every route of the project (HTML and API),
found by walking Django's resolver, so that a route added later is walked by itself."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

# Parameters that are not ids, with the value that reaches the data: the first attachment
# of a message.
ROUTE_VALUES = {"index": "0"}

_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


def route_text(pattern: Any) -> str:
    if isinstance(pattern, RoutePattern):
        return str(pattern._route)
    if isinstance(pattern, RegexPattern):
        regex = pattern._regex
        return regex.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\.", ".")
    return str(pattern)


def iter_routes(patterns: list[Any] | None = None, prefix: str = "") -> Iterator[str]:
    """Every route, as its path pattern text ("o/<slug:org_slug>/inbox/<id:conversation_id>/")."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        text = prefix + route_text(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from iter_routes(entry.url_patterns, text)
        elif isinstance(entry, URLPattern):
            yield text


def route_params(route: str) -> list[str]:
    """The names of the route's parameters, in order."""
    return [m.group("name") or m.group("rname") for m in _PARAM.finditer(route)]


def fill_route(route: str, values: Mapping[str, str]) -> str:
    """The route's URL with these parameter values (ROUTE_VALUES for those it names)."""
    values = {**values, **{name: value for name, value in ROUTE_VALUES.items() if name in values}}
    return "/" + _PARAM.sub(lambda m: values[m.group("name") or m.group("rname")], route)
