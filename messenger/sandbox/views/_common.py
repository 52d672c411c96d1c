from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


def sandbox_only(view: ViewFunc) -> ViewFunc:
    """404 unless GRAPH_SANDBOX is on, even if the URLconf was loaded while it was."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.GRAPH_SANDBOX:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"
