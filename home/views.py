"""The organization's home page: what needs the member now (home.selectors)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from helpdesk.tenancy import TenantRequest, member_required
from home import selectors


@member_required
@require_GET
def home(request: TenantRequest) -> HttpResponse:
    home = selectors.home_get(organization=request.organization, membership=request.membership)
    # Its parts alone, drawn again when a conversation or a ticket changes (live.js).
    template = "home/_home_parts.html" if request.GET.get("part") == "counts" else "home/home.html"
    return render(request, template, {"home": home})
