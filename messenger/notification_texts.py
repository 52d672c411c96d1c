"""The words of the Messenger notices, written when they are read (helpdesk.notifications):
settings.NOTIFICATION_TEXTS names one function per kind. Each takes the parameters the
notice was stored with and writes in the active language and time zone; the `*_params`
functions beside them are what the senders store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from helpdesk import datetimes
from helpdesk.names import stored_name
from helpdesk.notifications import NotificationText
from messenger.contact_names import contact_name, shown_name
from messenger.models import Contact, ReauthorizationReason, ReplyWindowKind
from sla.services import target_name


def new_conversation_params(*, contact: Contact, preview: str) -> dict[str, Any]:
    return {
        "contact": contact.display_name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "psid": contact.psid,
        "is_guest": contact.is_guest,
        "preview": preview,
    }


def _contact(params: Mapping[str, Any]) -> str:
    if "psid" in params:
        contact = Contact(
            display_name=str(params.get("contact") or ""),
            first_name=str(params.get("first_name") or ""),
            last_name=str(params.get("last_name") or ""),
            psid=str(params["psid"]),
            is_guest=bool(params.get("is_guest")),
        )
        return contact_name(contact)
    return shown_name(str(params["contact"]))


def new_conversation(params: Mapping[str, Any]) -> NotificationText:
    return NotificationText(
        title=_("New conversation with %(name)s") % {"name": _contact(params)},
        body=str(params.get("preview") or ""),
    )


def conversation_forwarded_params(*, agent: dict[str, str], contact: Contact, note: str) -> dict[str, Any]:
    return {
        "agent": agent,
        "contact": contact.display_name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "psid": contact.psid,
        "is_guest": contact.is_guest,
        "note": note,
    }


def conversation_forwarded(params: Mapping[str, Any]) -> NotificationText:
    return NotificationText(
        title=_("%(agent)s forwarded you a conversation with %(contact)s")
        % {"agent": stored_name(params["agent"]), "contact": _contact(params)},
        body=str(params.get("note") or ""),
    )


def page_reauthorization_params(*, page: str, reason: str) -> dict[str, Any]:
    return {"page": page, "reason": reason}


def page_reauthorization(params: Mapping[str, Any]) -> NotificationText:
    reason = str(params["reason"])
    labels = dict(ReauthorizationReason.choices)
    return NotificationText(
        title=_("Facebook Page “%(page)s” needs re-authorization") % {"page": params["page"]},
        body=_(
            "Reason: %(reason)s. Messages cannot be sent or received through this Page until an admin re-authorizes it."
        )
        % {"reason": labels.get(reason, reason)},
    )


def token_expiring_params(*, page: str, deadline: datetime) -> dict[str, Any]:
    return {"page": page, "deadline": deadline.isoformat()}


def token_expiring(params: Mapping[str, Any]) -> NotificationText:
    deadline = datetime.fromisoformat(str(params["deadline"]))
    return NotificationText(
        title=_("Facebook Page “%(page)s” must be re-authorized by %(when)s")
        % {"page": params["page"], "when": datetimes.datetime_text(deadline)},
        body=_(
            "Messages can no longer be sent or received through this Page after that. "
            "Open the channel and click “Re-authorize”."
        ),
    )


def page_subscription_dropped_params(*, page: str, resubscribed: bool) -> dict[str, Any]:
    return {"page": page, "resubscribed": resubscribed}


def page_subscription_dropped(params: Mapping[str, Any]) -> NotificationText:
    if params.get("resubscribed"):
        body = _(
            "Facebook had stopped sending this Page’s messages to the helpdesk (it does so after "
            "about an hour of failed deliveries). The helpdesk subscribed again; messages sent "
            "meanwhile may be missing."
        )
    else:
        body = _(
            "Facebook had stopped sending this Page’s messages to the helpdesk, and subscribing "
            "again failed. It is tried again daily; re-authorizing the Page also subscribes it."
        )
    return NotificationText(
        title=_("Facebook dropped the subscription of Page “%(page)s”") % {"page": params["page"]},
        body=body,
    )


def page_silent_params(*, page: str, last_event_at: datetime | None, expected: int) -> dict[str, Any]:
    return {"page": page, "last_event": last_event_at.isoformat() if last_event_at else None, "expected": expected}


def page_silent(params: Mapping[str, Any]) -> NotificationText:
    last_event = params.get("last_event")
    if last_event:
        last = _("Last event received: %(when)s.") % {
            "when": datetimes.datetime_text(datetime.fromisoformat(str(last_event)))
        }
    else:
        last = _("No event has been received yet.")
    return NotificationText(
        title=_("Facebook Page “%(page)s” is silent") % {"page": params["page"]},
        body=_(
            "%(last)s At this time of the week it usually receives about %(expected)s events. "
            "Check on the channel page that the Page is subscribed and its token is valid, that "
            "the app was not removed from the Page, and whether Facebook reports an outage."
        )
        % {"last": last, "expected": params.get("expected", 0)},
    )


def mention_params(*, author: dict[str, str], contact: Contact, excerpt: str) -> dict[str, Any]:
    """``author``: helpdesk.names.name_parts of the note's writer; ``excerpt``: the note's
    beginning (a notice shows a line, the note is in the conversation)."""
    return {
        "author": author,
        "contact": contact.display_name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "psid": contact.psid,
        "is_guest": contact.is_guest,
        "excerpt": excerpt,
    }


def mention(params: Mapping[str, Any]) -> NotificationText:
    return NotificationText(
        title=_("%(author)s mentioned you in a note on %(contact)s's conversation")
        % {"author": stored_name(params["author"], "?"), "contact": _contact(params)},
        body=str(params.get("excerpt", "")),
    )


def unassigned_too_long_params(*, contact: Contact, channel: str, minutes: int) -> dict[str, Any]:
    """``minutes``: the organization's time a conversation may wait unassigned, when told."""
    return {
        "contact": contact.display_name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "psid": contact.psid,
        "is_guest": contact.is_guest,
        "channel": channel,
        "minutes": minutes,
    }


def unassigned_too_long(params: Mapping[str, Any]) -> NotificationText:
    return NotificationText(
        title=_("Unassigned for over %(minutes)d min: the conversation with %(contact)s")
        % {"contact": _contact(params), "minutes": int(params["minutes"])},
        body=_("Channel: %(channel)s. Nobody is assigned to the conversation yet.") % {"channel": params["channel"]},
    )


def window_closing_params(*, contact: Contact, channel: str, window: str, closes_at: datetime) -> dict[str, Any]:
    """``window``: a ReplyWindowKind; ``closes_at``: when that window closes."""
    return {
        "contact": contact.display_name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "psid": contact.psid,
        "is_guest": contact.is_guest,
        "channel": channel,
        "window": window,
        "closes_at": closes_at.isoformat(),
    }


def window_closing(params: Mapping[str, Any]) -> NotificationText:
    closes_at = datetime.fromisoformat(str(params["closes_at"]))
    words = {"contact": _contact(params), "when": datetimes.datetime_text(closes_at)}
    if params["window"] == ReplyWindowKind.HUMAN_AGENT:
        title = _("The 7-day window with %(contact)s closes at %(when)s") % words
        body = _(
            "The customer is still unanswered. After that they must write first: reply now "
            "(sent with the human agent tag). Channel: %(channel)s."
        ) % {"channel": params["channel"]}
    else:
        title = _("The 24-hour window with %(contact)s closes at %(when)s") % words
        body = _(
            "The customer is still unanswered. After that a reply needs the human agent tag. Channel: %(channel)s."
        ) % {"channel": params["channel"]}
    return NotificationText(title=title, body=body)


# --- SLA targets (sla.services.sla_alerts_send; conversations and tickets alike) -------------


def sla_params(*, contact: Contact, due_at: datetime, ticket_id: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "contact": contact.display_name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "psid": contact.psid,
        "is_guest": contact.is_guest,
        "due": due_at.isoformat(),
    }
    if ticket_id is not None:
        params["ticket"] = ticket_id
    return params


def _sla_subject(params: Mapping[str, Any]) -> str:
    if params.get("ticket"):
        return _("ticket #%(number)s of %(name)s") % {"number": params["ticket"], "name": _contact(params)}
    return _("the conversation with %(name)s") % {"name": _contact(params)}


def _sla_target(params: Mapping[str, Any]) -> str:
    return target_name(str(params.get("target", "")))


def sla_at_risk(params: Mapping[str, Any]) -> NotificationText:
    due = datetime.fromisoformat(str(params["due"]))
    return NotificationText(
        title=_("SLA at risk: %(subject)s") % {"subject": _sla_subject(params)},
        body=_("%(target)s is due %(when)s.") % {"target": _sla_target(params), "when": datetimes.datetime_text(due)},
    )


def sla_breached(params: Mapping[str, Any]) -> NotificationText:
    due = datetime.fromisoformat(str(params["due"]))
    return NotificationText(
        title=_("SLA breached: %(subject)s") % {"subject": _sla_subject(params)},
        body=_("%(target)s was due %(when)s.") % {"target": _sla_target(params), "when": datetimes.datetime_text(due)},
    )
