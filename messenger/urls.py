"""HTML pages of the messenger app (mounted under /o/<org_slug>/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from messenger import oauth
from messenger.views import (
    alerts,
    attachments,
    avatars,
    bulk,
    conversation,
    conversation_actions,
    conversation_labels,
    conversation_list,
    notes,
    presence,
    saved_views,
)
from messenger.webhook import views as webhook_views

app_name = "messenger"

urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/webhook-events/", webhook_views.webhook_events, name="webhook_events"),
]

# --- The agent inbox ---------------------------------------------------------------------------
urlpatterns += [
    path("inbox/", conversation_list.inbox, name="inbox"),
    path("inbox/list/", conversation_list.inbox_list, name="inbox_list"),
    # Saved views (the sidebar's section and its forms).
    path("inbox/views/", saved_views.saved_view_section, name="saved_views"),
    path("inbox/views/new/", saved_views.saved_view_create, name="saved_view_create"),
    path("inbox/views/<id:view_id>/rename/", saved_views.saved_view_rename_form, name="saved_view_rename_form"),
    path("inbox/views/<id:view_id>/rename/save/", saved_views.saved_view_rename, name="saved_view_rename"),
    path("inbox/views/<id:view_id>/update/", saved_views.saved_view_update, name="saved_view_update"),
    path("inbox/views/<id:view_id>/delete/", saved_views.saved_view_delete, name="saved_view_delete"),
    path("inbox/bulk/", bulk.inbox_bulk, name="inbox_bulk"),
    path("inbox/alerts/count.json", alerts.alert_count, name="alert_count"),
    path("inbox/<id:conversation_id>/alert.json", alerts.conversation_alert, name="conversation_alert"),
    path("inbox/<id:conversation_id>/", conversation.conversation_detail, name="conversation"),
    path(
        "inbox/<id:conversation_id>/transcript/", conversation.conversation_transcript, name="conversation_transcript"
    ),
    path("inbox/<id:conversation_id>/send/", conversation_actions.conversation_send, name="conversation_send"),
    path("inbox/<id:conversation_id>/typing/", conversation_actions.conversation_typing, name="conversation_typing"),
    path("inbox/<id:conversation_id>/presence/", presence.conversation_presence, name="conversation_presence"),
    path("inbox/<id:conversation_id>/notes/", notes.conversation_note_add, name="conversation_note_add"),
    path("inbox/<id:conversation_id>/mentionable/", notes.conversation_mentionable, name="conversation_mentionable"),
    *(
        path(
            f"inbox/<id:conversation_id>/{action}/",
            conversation_actions.conversation_action,
            {"action": action},
            name=f"conversation_{action}",
        )
        for action in ("assign", "forward", "close", "reopen", "block", "unblock")
    ),
    path(
        "inbox/<id:conversation_id>/labels/",
        conversation_labels.conversation_label_add,
        name="conversation_label_add",
    ),
    path(
        "inbox/<id:conversation_id>/labels/<id:label_id>/remove/",
        conversation_labels.conversation_label_remove,
        name="conversation_label_remove",
    ),
    path("inbox/messages/<id:message_id>/retry/", conversation_actions.message_retry, name="message_retry"),
    path(
        "inbox/messages/<id:message_id>/attachments/<int:index>/",
        attachments.message_attachment,
        name="message_attachment",
    ),
    path("inbox/contacts/<id:contact_id>/avatar/", avatars.contact_avatar, name="contact_avatar"),
    # Linking Facebook Pages through Facebook Login (messenger.oauth); Facebook's callback is
    # app-level (messenger.oauth_urls).
    path("messenger/channels/<id:channel_id>/pages/link/", oauth.page_link, name="page_link"),
    path("messenger/pages/<id:page_pk>/reauthorize/", oauth.page_reauthorize, name="page_reauthorize"),
    path("messenger/oauth/choose/", oauth.oauth_choose, name="oauth_choose"),
]
