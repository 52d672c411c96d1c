"""{% notification_text n as text %}: a stored notification's words for the reader of the page
(helpdesk.notifications), then {{ text.title }} and {{ text.body }}."""

from __future__ import annotations

from django import template

from helpdesk import notifications
from helpdesk.models import Notification

register = template.Library()


@register.simple_tag
def notification_text(notification: Notification) -> notifications.NotificationText:
    return notifications.notification_text(notification)
