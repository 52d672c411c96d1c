from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse

P = ParamSpec("P")


def sandbox_only(view: Callable[P, HttpResponse]) -> Callable[P, HttpResponse]:
    """404 unless GRAPH_SANDBOX is on, even if the URLconf was loaded while it was."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not settings.GRAPH_SANDBOX:
            raise Http404
        return view(*args, **kwargs)

    return wrapper


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"
