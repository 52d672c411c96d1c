"""The product's one way of saying "done" (or "refused") without moving the page: a toast.

Full page loads show the request's Django messages as toasts (``base.html`` renders them,
``helpdesk/_toast.html`` is one toast); an htmx response asks for one with ``toast_trigger``,
which the page's script (``helpdesk/static/helpdesk/app.js``) turns into the same markup.
"""

from __future__ import annotations

import json

from django.http import HttpResponse

# The event htmx fires on the page (HX-Trigger); app.js listens for it.
TOAST_EVENT = "helpdesk:toast"
LEVELS = ("success", "info", "warning", "error")


def toast_trigger(response: HttpResponse, message: str, *, level: str = "success") -> HttpResponse:
    """Ask the page to show ``message`` as a toast once htmx has this response."""
    if level not in LEVELS:
        raise ValueError(f"unknown toast level {level!r}")
    # ensure_ascii: a header is Latin-1; JSON's \\u escapes carry Japanese through untouched.
    response["HX-Trigger"] = json.dumps({TOAST_EVENT: {"level": level, "message": str(message)}})
    return response
