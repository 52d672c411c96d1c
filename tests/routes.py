"""The product's routes, read from the URL resolver, so that a test walking them picks up a
route added later by itself."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern


@dataclass(frozen=True)
class Route:
    """One URL pattern: `key` is what ``resolve(path).route`` answers for it, `text` the
    pattern in readable form (``o/<slug:org_slug>/inbox/<id:conversation_id>/``)."""

    key: str
    text: str
    view: Callable[..., Any]

    @property
    def params(self) -> list[tuple[str, str]]:
        """(converter, name) of each parameter, in order; a regex group has converter "re"."""
        return [(m.group("conv") or ("re" if m.group("rname") else "str"), m.group("name") or m.group("rname"))
                for m in _PARAM.finditer(self.text)]  # fmt: skip

    def fill(self, values: dict[str, str]) -> str:
        """The path with each parameter replaced by its value (already percent-encoded)."""
        return "/" + _PARAM.sub(lambda m: values[m.group("name") or m.group("rname")], self.text)

    def segment_before(self, name: str) -> str:
        """The literal path segment before a parameter: `departments` for `api/v1/departments/<id:pk>/`."""
        head = self.text.split(f":{name}>", 1)[0] if f":{name}>" in self.text else self.text.split(f"<{name}>", 1)[0]
        literal = [part for part in head.split("/")[:-1] if part and "<" not in part and "(" not in part]
        return literal[-1] if literal else ""


_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


def _text(pattern: Any) -> str:
    if isinstance(pattern, RoutePattern):
        return str(pattern._route)
    if isinstance(pattern, RegexPattern):
        return pattern._regex.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\.", ".")
    return str(pattern)


def _join(first: str, second: str) -> str:
    # As django.urls.resolvers.URLResolver._join_route, so that keys match ResolverMatch.route.
    return second if not first else first + second.removeprefix("^")


def iter_routes(patterns: list[Any] | None = None, key: str = "", text: str = "") -> Iterator[Route]:
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        entry_key, entry_text = _join(key, str(entry.pattern)), text + _text(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from iter_routes(entry.url_patterns, entry_key, entry_text)
        elif isinstance(entry, URLPattern):
            yield Route(key=entry_key, text=entry_text, view=entry.callback)
