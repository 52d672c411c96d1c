"""The words of outgoing webhooks' notifications (settings.NOTIFICATION_TEXTS)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from helpdesk import datetimes
from helpdesk.notifications import NotificationText


def endpoint_disabled(params: Mapping[str, Any]) -> NotificationText:
    since = datetime.fromisoformat(str(params["since"]))
    return NotificationText(
        title=_("Webhook endpoint disabled: %(url)s") % {"url": params["url"]},
        body=_("Every delivery to it failed since %(when)s. Fix the endpoint, then turn it on again in Settings.")
        % {"when": datetimes.datetime_text(since)},
    )
