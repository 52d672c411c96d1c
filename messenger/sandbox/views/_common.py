from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar, cast

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponseBadRequest
from django.http.response import HttpResponseBase

P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)


def _holds_nul(request: HttpRequest) -> bool:
    """A NUL anywhere in what the sandbox would store or look up: PostgreSQL's text and jsonb
    cannot hold one (Facebook never sends one)."""
    texts = [request.path, *request.GET.keys(), *(v for _key, values in request.GET.lists() for v in values)]
    if request.content_type == "application/json":
        return b"\x00" in request.body or b"\\u0000" in request.body.lower()
    if request.method == "POST":
        texts += [*request.POST.keys(), *(v for _key, values in request.POST.lists() for v in values)]
    return any("\x00" in text or "\\u0000" in text.lower() for text in texts)


def sandbox_only(view: Callable[P, R]) -> Callable[P, R]:
    """404 unless GRAPH_SANDBOX is on, even if the URLconf was loaded while it was; 400 for
    a request with a NUL character."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not settings.GRAPH_SANDBOX:
            raise Http404
        request = args[0]
        if isinstance(request, HttpRequest) and _holds_nul(request):
            return cast(R, HttpResponseBadRequest("NUL characters are not accepted.", content_type="text/plain"))
        return view(*args, **kwargs)

    return wrapper


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"
