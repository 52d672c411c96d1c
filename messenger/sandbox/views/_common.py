from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)


def sandbox_only(view: Callable[P, R]) -> Callable[P, R]:
    """404 unless GRAPH_SANDBOX is on, even if the URLconf was loaded while it was."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not settings.GRAPH_SANDBOX:
            raise Http404
        return view(*args, **kwargs)

    return wrapper


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"
