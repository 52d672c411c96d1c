"""HTML pages of the messenger app (mounted under /o/<org_slug>/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from messenger.views import inbox

app_name = "messenger"

urlpatterns: list[URLPattern | URLResolver] = []

# --- The agent inbox ---------------------------------------------------------------------------
urlpatterns += [
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/list/", inbox.inbox_list, name="inbox_list"),
    path("inbox/<int:conversation_id>/", inbox.conversation_detail, name="conversation"),
    path("inbox/<int:conversation_id>/transcript/", inbox.conversation_transcript, name="conversation_transcript"),
    path("inbox/<int:conversation_id>/send/", inbox.conversation_send, name="conversation_send"),
    path("inbox/<int:conversation_id>/typing/", inbox.conversation_typing, name="conversation_typing"),
    *(
        path(
            f"inbox/<int:conversation_id>/{action}/",
            inbox.conversation_action,
            {"action": action},
            name=f"conversation_{action}",
        )
        for action in ("assign", "forward", "close", "reopen", "block", "unblock")
    ),
    path("inbox/messages/<int:message_id>/retry/", inbox.message_retry, name="message_retry"),
]
