"""Which API endpoints do what each page and action of the UI does: the declared list that
tests/api/test_ui_api_parity.py holds the URL map to.

Every URL of the UI under `/o/<org_slug>/` is named (`namespace:name` when its app has a
namespace, as `reverse()` spells it) either in UI_TO_API, with the names of the API routes
(`reverse()` names of routes under /api/v1/, without a namespace) that let a client do the same,
or in EXEMPT, with the reason it has none. The test fails when a UI route is in neither,
when an entry names a UI route that no longer exists, and when an API name is not a route
of the OpenAPI schema (/api/schema/).

Adding a page or an action to the UI:
1. Give it its API endpoint (the app's api.py and api_urls.py, deriving from
   helpdesk.api.OrganizationAPIView or OrganizationViewSet, so that it is in the schema and has
   the API's rate limits and Idempotency-Key on its POSTs).
2. Add one line to UI_TO_API: `"app:ui_url_name": ("api-url-name", ...)`, in the block of its app.
   Name every API route a client needs for the action (the list to read what the page shows,
   the detail route whose PATCH makes the change, …).
3. Only when a client has nothing to do there, add it to EXEMPT with a short reason that says
   which kind it is (a page render whose data other routes give, a fragment, a live signal of
   a browser tab, a browser-only dialog). Keep EXEMPT short.
"""

from __future__ import annotations

UI_TO_API: dict[str, tuple[str, ...]] = {
    # --- helpdesk: organization, members, tokens, notifications, preferences
    "org_home": ("conversation-counts", "ticket-list", "notification-list", "my-availability"),
    "organization_settings": ("organization-settings",),
    "department_list": ("department-list",),
    "department_edit": ("department-detail",),
    "member_list": ("member-list", "invitation-list"),
    "member_edit": ("member-detail",),
    "invitation_revoke": ("invitation-revoke", "invitation-detail"),
    # Creating a token stays on the page: a token that could make tokens would outlive its revocation.
    "api_tokens": ("api-token-list", "api-token-detail"),
    "notification_list": ("notification-list",),
    "notification_badge": ("notification-list",),
    "notification_mark_all_read": ("notification-mark-read",),
    "notification_open": ("notification-mark-read",),
    "notification_alert": ("notification-list", "my-preferences"),
    "preferences": ("my-preferences",),
    # --- availability
    "availability:status_set": ("my-availability",),
    "availability:settings": ("availability-settings",),
    "availability:member_capacity": ("member-availability",),
    "availability:member_set_offline": ("member-availability",),
    # --- channels and pages
    "channels:channel_overview": ("channel-list",),
    "channels:channel_list": ("channel-list",),
    "channels:channel_create": ("channel-list",),
    "channels:channel_edit": ("channel-detail", "channel-pages"),
    "channels:channel_icon": ("channel-icon", "channel-detail"),
    "channels:channel_disable": ("channel-disable",),
    "channels:channel_enable": ("channel-enable",),
    "channels:channel_delete": ("channel-detail",),
    "channels:channel_assignment": ("channel-detail",),
    "channels:page_remove": ("channel-page",),
    "channels:agent_list": ("channel-agents", "member-list"),
    "channels:agent_channels": ("channel-agents",),
    "channels:ticket_settings": ("department-settings",),
    "channels:business_hours_list": ("department-business-hours",),
    "channels:business_hours_edit": ("department-business-hours",),
    # --- labels, SLA
    "labels:label_list": ("label-list",),
    "labels:label_edit": ("label-detail",),
    "sla:policy_list": ("sla-policy-list",),
    "sla:policy_edit": ("sla-policy-detail",),
    # --- the inbox
    "messenger:webhook_events": ("webhook-event-list", "webhook-event-detail"),
    "messenger:inbox": ("conversation-list", "conversation-counts"),
    "messenger:inbox_list": ("conversation-list",),
    "messenger:saved_views": ("saved-view-list",),
    "messenger:saved_view_create": ("saved-view-list",),
    "messenger:saved_view_rename": ("saved-view-detail",),
    "messenger:saved_view_update": ("saved-view-detail",),
    "messenger:saved_view_delete": ("saved-view-detail",),
    "messenger:inbox_bulk": ("conversation-bulk",),
    "messenger:alert_count": ("conversation-counts", "notification-list"),
    "messenger:conversation_alert": ("conversation-detail",),
    "messenger:conversation": ("conversation-detail", "conversation-messages"),
    "messenger:conversation_transcript": ("conversation-messages", "conversation-notes"),
    "messenger:conversation_send": ("conversation-messages",),
    "messenger:conversation_note_add": ("conversation-notes",),
    "messenger:conversation_mentionable": ("member-list",),
    "messenger:conversation_assign": ("conversation-assign",),
    "messenger:conversation_forward": ("conversation-forward",),
    "messenger:conversation_close": ("conversation-close",),
    "messenger:conversation_reopen": ("conversation-reopen",),
    "messenger:conversation_block": ("conversation-block",),
    "messenger:conversation_unblock": ("conversation-unblock",),
    "messenger:conversation_label_add": ("conversation-labels",),
    "messenger:conversation_label_remove": ("conversation-label-remove",),
    "messenger:message_retry": ("message-retry",),
    "messenger:message_attachment": ("message-attachment",),
    # --- tickets
    "tickets:ticket_list": ("ticket-list",),
    "tickets:ticket_detail": ("ticket-detail",),
    "tickets:ticket_transcript": ("ticket-messages", "ticket-notes"),
    "tickets:ticket_reply": ("ticket-messages",),
    "tickets:ticket_note": ("ticket-notes",),
    "tickets:ticket_subject": ("ticket-detail",),
    "tickets:ticket_state": ("ticket-detail",),
    "tickets:ticket_details": ("ticket-detail",),
    "tickets:ticket_label_add": ("ticket-labels",),
    "tickets:ticket_label_remove": ("ticket-label-remove",),
    "tickets:convert": ("conversation-convert",),
    # The `contact` filter of the list is not there yet: the contacts work brings it.
    # The contact's tickets: the contact's detail links each ticket the caller sees.
    "tickets:contact_tickets": ("contact-detail", "ticket-detail"),
    # --- customer ratings
    "csat:conversation_rating": ("conversation-ratings",),
    "csat:ticket_rating": ("ticket-ratings",),
    # --- canned responses
    "canned:list": ("canned-response-list",),
    "canned:create": ("canned-response-list",),
    "canned:edit": ("canned-response-detail",),
    "canned:delete": ("canned-response-detail",),
    "canned:attachment_add": ("canned-response-attachments",),
    "canned:attachment_remove": ("canned-response-attachment",),
    "canned:attachment_file": ("canned-response-attachment",),
    "canned:composer_search": ("canned-response-list",),
    "canned:composer_render": ("canned-response-render",),
    "canned:ticket_composer_search": ("canned-response-list",),
    # A ticket's reply goes to its conversation (`conversation_id` of the ticket).
    "canned:ticket_composer_render": ("canned-response-render",),
    # --- contacts (the person across pages, notes, merge) and their kept pictures
    "contacts:list": ("contact-list",),
    "contacts:detail": ("contact-detail",),
    "contacts:merge": ("contact-merge",),
    "contacts:unmerge": ("contact-unmerge",),
    "contacts:note_add": ("contact-notes",),
    "contacts:note_edit": ("contact-note-detail",),
    "messenger:contact_avatar": ("contact-avatar",),
    # --- a customer's data on request, the audit log
    "privacy:contact_data": ("contact-export", "contact-erase"),
    "privacy:contact_export": ("contact-export",),
    "privacy:audit_log": ("audit-log",),
    # --- outgoing webhooks
    "outgoing:endpoint_list": ("webhook-endpoint-list",),
    "outgoing:endpoint_detail": (
        "webhook-endpoint-detail",
        "webhook-endpoint-deliveries",
        "webhook-endpoint-rotate-secret",
    ),
    "outgoing:delivery_send_again": ("webhook-endpoint-send-again",),
    # --- reports
    "reports:index": ("report",),
    "reports:report": ("report",),
    "reports:csv": ("report",),
}

EXEMPT: dict[str, str] = {
    # UI-only live signals of an open browser tab: they say a person is looking or typing now.
    "availability:heartbeat": "live signal: an open tab says its member is still there",
    "messenger:conversation_typing": "live signal: the typing indicator sent to the customer while an agent types",
    "messenger:conversation_presence": "live signal: which colleagues have the conversation open",
    "live:stream": "live signal: the browser's event stream (API clients read the resources, or take webhooks)",
    # Fragments: pieces of a page drawn again by htmx, their data in the routes of their page.
    "messenger:saved_view_rename_form": "fragment: the inline rename form (the rename is saved-view-detail)",
    # The Facebook Login dialog needs a browser and a person signed in to Facebook.
    "messenger:page_link": "Facebook Login dialog (browser only)",
    "messenger:page_reauthorize": "Facebook Login dialog (browser only)",
    "messenger:oauth_choose": "Facebook Login dialog: choosing the pages granted (browser only)",
}
