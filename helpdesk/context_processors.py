from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def organization(request: HttpRequest) -> dict[str, Any]:
    """The organization and membership the middleware resolved, for the base template."""
    return {
        "organization": getattr(request, "organization", None),
        "membership": getattr(request, "membership", None),
    }
