"""The URL map as a given profile builds it: helpdesk.urls reads DEBUG and GRAPH_SANDBOX when
it is imported, so a test of another profile reloads it (and reloads it back afterwards)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.urls import clear_url_caches


def _reload() -> None:
    import helpdesk.urls

    importlib.reload(helpdesk.urls)
    clear_url_caches()


@contextmanager
def urls_of(settings: Any, *, debug: bool, sandbox: bool) -> Iterator[None]:
    """Settings and URL map of a profile: development (DEBUG on, sandbox on) or production."""
    previous = (settings.DEBUG, settings.GRAPH_SANDBOX)
    settings.DEBUG, settings.GRAPH_SANDBOX = debug, sandbox
    _reload()
    try:
        yield
    finally:
        settings.DEBUG, settings.GRAPH_SANDBOX = previous
        _reload()
