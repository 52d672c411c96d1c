"""Celery tasks of the messenger app, one module per area.

Celery's autodiscovery imports ``messenger.tasks``; this package imports every area module
so that a worker registers all of them. Each task is also named here, as
``messenger.tasks.<function>``, for callers and tests.

Conventions (STYLE.md, "Tasks and services without cycles"):

- A task's name is ``<app>.<area>.<action>`` (``messenger.sending.send_message``); the
  settings name tasks by it (CELERY_BEAT_SCHEDULE, CELERY_TASK_ROUTES).
- Tasks take plain ids and are safe to run twice.
- A service imports its task module at module level and queues the task on commit; a task
  imports the service it calls inside its body. That is the one kind of import inside a
  function the project allows (tests/test_import_graph.py checks it): it keeps a worker's
  import of the tasks light and the import graph free of cycles.
"""

from __future__ import annotations

from messenger.tasks import (
    alerts,
    attachments,
    contacts,
    counts,
    out_of_hours,
    pages,
    routing,
    search,
    sending,
    sla,
    webhook,
)
from messenger.tasks.alerts import unassigned_sweep, window_sweep
from messenger.tasks.attachments import ATTACHMENT_MAX_RETRIES, attachments_download
from messenger.tasks.contacts import contact_avatar_copy, contacts_avatars_refresh, contacts_profiles_retry
from messenger.tasks.counts import open_counts_fold
from messenger.tasks.out_of_hours import out_of_hours_reply
from messenger.tasks.pages import page_silence_check, page_subscription_check, token_expiry_sweep
from messenger.tasks.routing import drain_agent, drain_organization, route_conversations, routing_sweep
from messenger.tasks.search import message_search_index
from messenger.tasks.sending import send_message, send_sender_action, sending_sweep
from messenger.tasks.sla import conversations_sla_sweep
from messenger.tasks.webhook import (
    received_posts_apply,
    webhook_contact_profile_fetch,
    webhook_events_process_pending,
    webhook_events_prune,
    webhook_followups,
)

__all__ = [
    "ATTACHMENT_MAX_RETRIES",
    "alerts",
    "attachments",
    "attachments_download",
    "contact_avatar_copy",
    "contacts",
    "contacts_avatars_refresh",
    "contacts_profiles_retry",
    "conversations_sla_sweep",
    "counts",
    "drain_agent",
    "drain_organization",
    "message_search_index",
    "open_counts_fold",
    "out_of_hours",
    "out_of_hours_reply",
    "page_silence_check",
    "page_subscription_check",
    "pages",
    "received_posts_apply",
    "route_conversations",
    "routing",
    "routing_sweep",
    "search",
    "send_message",
    "send_sender_action",
    "sending",
    "sending_sweep",
    "sla",
    "token_expiry_sweep",
    "unassigned_sweep",
    "webhook",
    "webhook_contact_profile_fetch",
    "webhook_events_process_pending",
    "webhook_events_prune",
    "webhook_followups",
    "window_sweep",
]
