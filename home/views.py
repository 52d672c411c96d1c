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
    return render(request, "home/home.html", {"home": home})
