"""A ticket's events in words: stored as a code with parameters (tickets.models.TicketEvent),
put into a sentence in the reader's language when shown."""

from __future__ import annotations

from django.utils.translation import gettext as _

from helpdesk.names import stored_name, user_name
from tickets.models import TicketEvent, TicketPriority, TicketState


def _label(choices: type[TicketState] | type[TicketPriority], value: object) -> str:
    """The value's label in the reader's language (the value itself if it is no longer a choice)."""
    return str(dict(choices.choices).get(str(value), value))


def describe(event: TicketEvent) -> str:
    """A system line of the ticket, with names as they were at the time."""
    data = event.data or {}
    actor = user_name(event.actor) or _("The system")
    Kind = TicketEvent.Kind
    if event.kind == Kind.STATE_CHANGED:
        return _("%(actor)s changed the ticket from %(from)s to %(to)s.") % {
            "actor": actor,
            "from": _label(TicketState, data.get("from")),
            "to": _label(TicketState, data.get("to")),
        }
    if event.kind == Kind.PRIORITY_CHANGED:
        return _("%(actor)s changed the priority from %(from)s to %(to)s.") % {
            "actor": actor,
            "from": _label(TicketPriority, data.get("from")),
            "to": _label(TicketPriority, data.get("to")),
        }
    if event.kind == Kind.ASSIGNED:
        return _("%(actor)s assigned the ticket to %(to)s.") % {"actor": actor, "to": stored_name(data.get("to"), "?")}
    if event.kind == Kind.UNASSIGNED:
        return _("%(actor)s unassigned the ticket.") % {"actor": actor}
    if event.kind == Kind.SUBJECT_CHANGED:
        return _("%(actor)s changed the subject to “%(to)s”.") % {"actor": actor, "to": data.get("to", "")}
    if event.kind == Kind.LABEL_ADDED:
        return _("%(actor)s added the label %(label)s.") % {"actor": actor, "label": data.get("label", "?")}
    if event.kind == Kind.LABEL_REMOVED:
        return _("%(actor)s removed the label %(label)s.") % {"actor": actor, "label": data.get("label", "?")}
    return str(event.get_kind_display())
