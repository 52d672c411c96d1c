"""The project's URLs plus a stand-in for the inbox's conversation page (which lives in the
inbox engineer's branch), to check that a ticket links to its conversation when it exists."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from helpdesk.urls import urlpatterns as project_urlpatterns


def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return HttpResponse(f"conversation {conversation_id}")


inbox = ([path("conversations/<int:conversation_id>/", conversation_detail, name="conversation_detail")], "messenger")

urlpatterns = [path("o/<slug:org_slug>/", include(inbox)), *project_urlpatterns]
