"""The member's event stream: `GET /o/<org_slug>/live/` (text/event-stream).

Served only by an ASGI server (uvicorn in `make run`, gunicorn's uvicorn workers in
production): a WSGI server would hold a worker for every open page. Anywhere push cannot be
given (WSGI, no Redis configured, Redis not answering) the answer is 204, which tells
live.js to poll, quietly, and to try again later.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from availability.services import tab_seen
from helpdesk.tenancy import TenantRequest
from live import bus
from live.hub import BusUnavailable, get_hub
from live.scope import MemberScope, member_scope
from live.streams import open_stream

logger = logging.getLogger(__name__)


def _push_unavailable() -> HttpResponse:
    response = HttpResponse(status=204)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
async def stream(request: TenantRequest) -> HttpResponseBase:
    if getattr(request, "membership", None) is None:
        raise Http404
    if not isinstance(request, ASGIRequest) or not bus.enabled():
        return _push_unavailable()
    membership_id = request.membership.pk

    async def load_scope() -> MemberScope:
        return await sync_to_async(member_scope)(membership_id=membership_id)

    async def seen() -> None:
        await sync_to_async(tab_seen)(membership_id=membership_id)

    # The browser's own reconnect names the last event it saw; a page's first connection
    # names the position it was rendered at (`from`), so that nothing falls in between.
    last_id = request.headers.get("Last-Event-ID") or request.GET.get("from", "")
    try:
        body = await open_stream(
            hub=get_hub(),
            scope=await load_scope(),
            last_id=last_id,
            reload_scope=load_scope,
            tab_seen=seen,
        )
    except BusUnavailable as error:
        logger.info("live: no push for this page, it polls (%s)", error)
        return _push_unavailable()
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache, no-store"
    # nginx and similar proxies pass each event on at once instead of buffering the answer.
    response["X-Accel-Buffering"] = "no"
    return response
