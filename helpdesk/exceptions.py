"""Domain errors: one hierarchy, each with a stable machine code.

The DRF exception handler (`helpdesk.api.exception_handler`) maps them to HTTP once;
HTML views show `message` as a form error or flash message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class HelpdeskError(Exception):
    code: str = "error"
    status: int = 400
    default_message: Any = _("The request could not be completed.")

    def __init__(self, message: Any = None, *, details: Any = None) -> None:
        self.message = message if message is not None else self.default_message
        self.details = details
        super().__init__(str(self.message))


class NotFound(HelpdeskError):
    code = "not_found"
    status = 404
    default_message = _("Not found.")


class PermissionDenied(HelpdeskError):
    code = "permission_denied"
    status = 403
    default_message = _("You do not have permission to do this.")


class InvalidInput(HelpdeskError):
    code = "invalid"
    status = 400
    default_message = _("The input is not valid.")


class InvalidStatus(InvalidInput):
    """An availability status other than online, away or offline."""

    code = "invalid_status"
    default_message = _("The status must be online, away or offline.")


class InvalidCapacity(InvalidInput):
    """A capacity (conversations an agent may hold at once) outside 1–100."""

    code = "invalid_capacity"
    default_message = _("The capacity must be a whole number from 1 to 100.")


class Conflict(HelpdeskError):
    code = "conflict"
    status = 409
    default_message = _("The request conflicts with the current state.")


class DepartmentInUse(Conflict):
    code = "department_in_use"
    default_message = _("This department still has channels; move or delete them first.")


class LastAdmin(Conflict):
    code = "last_admin"
    default_message = _("An organization needs at least one active admin.")


class InvalidEmail(InvalidInput):
    code = "invalid_email"
    default_message = _("Enter a valid email address.")


class AlreadyMember(Conflict):
    code = "already_member"
    default_message = _("This person is already a member of the organization.")


class InvitationPending(Conflict):
    code = "invitation_pending"
    default_message = _("An invitation to this address is already pending: revoke it to send a new one.")


class InvitationClosed(HelpdeskError):
    """The invitation link was used, declined, revoked or has expired (`details.status` says which)."""

    code = "invitation_closed"
    status = 410
    default_message = _("This invitation is no longer valid.")


class UsernameTaken(Conflict):
    code = "username_taken"
    default_message = _("This username is taken; choose another one.")


class EmailTaken(Conflict):
    code = "email_taken"
    default_message = _("An account with this email address already exists.")


class ChannelLimitReached(Conflict):
    code = "channel_limit_reached"
    default_message = _("An organization may have at most as many channels as it has departments.")


class ChannelDisabled(Conflict):
    code = "channel_disabled"
    default_message = _("This channel is disabled: it cannot send or receive messages.")


class ChannelDeleted(Conflict):
    code = "channel_deleted"
    default_message = _("This channel was deleted: its conversations can be read but not answered.")


class PageAlreadyLinked(Conflict):
    code = "page_already_linked"
    default_message = _("This Facebook Page is already linked to another channel.")


class PageReauthorizationRequired(Conflict):
    code = "page_reauthorization_required"
    default_message = _("This Facebook Page needs to be re-authorized by an admin before messages can be sent.")


class ReplyWindowClosed(Conflict):
    code = "reply_window_closed"
    default_message = _("The reply window is closed: the customer must write first.")


class ColleagueReplied(Conflict):
    """Another member replied to the conversation since this agent's page showed it (within
    a couple of minutes): the composer asks before sending. ``details``: their name and how
    many seconds ago."""

    code = "colleague_replied"

    def __init__(self, *, name: str, seconds: int) -> None:
        self.name, self.seconds = name, seconds
        super().__init__(
            gettext("%(name)s replied %(seconds)s s ago — send anyway?") % {"name": name, "seconds": seconds},
            details={"name": name, "seconds": seconds},
        )


class MessageTooLong(HelpdeskError):
    """A reply longer than the channel's limit; the channel that counts passes its limit."""

    code = "message_too_long"
    status = 400

    def __init__(self, *, limit: int, details: Any = None) -> None:
        self.limit = limit
        super().__init__(message_too_long_text(limit), details=details)


def message_too_long_text(limit: int) -> str:
    """What the composer and the API say of a message over ``limit`` characters."""
    return gettext("A message can be at most %(limit)s characters.") % {
        "limit": number_format(limit, force_grouping=True)
    }


# --- Private notes and mentions (messenger.services.notes) ---


class NoteEmpty(InvalidInput):
    code = "note_empty"
    default_message = _("Write something in the note.")


class NoteTooLong(InvalidInput):
    code = "note_too_long"

    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        super().__init__(
            gettext("A note can be at most %(limit)s characters.")
            % {"limit": number_format(limit, force_grouping=True)}
        )


class MentionNotAllowed(InvalidInput):
    """An ``@name`` in a note that is not a member who may see the conversation (or nobody at
    all); ``details.usernames`` lists them, the message names them."""

    code = "mention_not_allowed"

    def __init__(self, *, usernames: list[str]) -> None:
        self.usernames = usernames
        names = ", ".join(f"@{name}" for name in usernames)
        super().__init__(
            gettext(
                "%(names)s cannot be mentioned: only members who can see this conversation can be. Nothing was saved."
            )
            % {"names": names},
            details={"usernames": usernames},
        )


class ContactBlocked(Conflict):
    code = "contact_blocked"
    default_message = _("This customer is blocked.")


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = _("This state change is not allowed.")


class BulkRefused(Conflict):
    """A bulk action that may not be done to some of the conversations named: nothing was
    changed; `details.conversations` lists each refused one (`id`, `code`, `reason`)."""

    code = "bulk_refused"
    default_message = _("Nothing was changed: the action cannot be done to some of these conversations.")


class InvalidAction(InvalidInput):
    """A bulk action other than those offered."""

    code = "invalid_action"
    default_message = _("Unknown action.")


class TooManyConversations(InvalidInput):
    """A bulk action naming more conversations than one request may (`details.max`)."""

    code = "too_many_conversations"
    default_message = _("Choose at most 100 conversations at a time.")


class NothingToConvert(Conflict):
    code = "nothing_to_convert"
    default_message = _("Every message of this conversation is already part of a ticket.")


class TicketAlreadyOpen(Conflict):
    """The conversation already has an active ticket; `details.ticket_id` names it."""

    code = "ticket_already_open"
    default_message = _("This conversation already has an open ticket.")

    def __init__(self, *, ticket_id: int) -> None:
        self.ticket_id = ticket_id
        super().__init__(details={"ticket_id": ticket_id})


class InvalidPeriod(InvalidInput):
    """A report's period whose end is before its start, or longer than two years."""

    code = "invalid_period"
    default_message = _("Choose a period whose end is not before its start, of at most two years.")


def http_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """For HTML views: a NotFound from a selector or service is a 404 page, PermissionDenied
    a 403 (the one mapping of domain errors to Django's own)."""
    from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
    from django.http import Http404

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except NotFound:
            raise Http404 from None
        except PermissionDenied:
            raise DjangoPermissionDenied from None

    return wrapper


class LabelNameTaken(Conflict):
    """A label whose name (case aside) the organization already uses."""

    code = "label_name_taken"
    default_message = _("A label with this name already exists.")


class ShortcutTaken(Conflict):
    """A canned response shortcut already used in the same scope."""

    code = "shortcut_taken"
    default_message = _("This shortcut is already used by another canned response here.")


class SavedViewNameTaken(Conflict):
    """A saved view name (case aside) already used in the same scope: the member's own views,
    or the organization's shared ones."""

    code = "view_name_taken"
    default_message = _("A saved view with this name already exists here.")


class SavedViewLimitReached(InvalidInput):
    """Too many saved views in one scope (a member's own, or the organization's shared ones)."""

    code = "saved_view_limit_reached"
    default_message = _("You have reached the maximum number of saved views here: delete one first.")


class InvalidLabelColor(InvalidInput):
    """A label colour that is not one of the palette's (labels.models.LabelColor)."""

    code = "invalid_label_color"
    default_message = _("Choose one of the palette's colours.")


class IdempotencyKeyInvalid(InvalidInput):
    """An `Idempotency-Key` header that is empty or longer than 255 characters."""

    code = "idempotency_key_invalid"
    default_message = _("The Idempotency-Key header must be 1 to 255 characters long.")


class IdempotencyKeyReused(HelpdeskError):
    """The same `Idempotency-Key` sent again with another method, path or body."""

    code = "idempotency_key_reused"
    status = 422
    default_message = _("This Idempotency-Key was already used for a different request.")


class IdempotencyKeyInProgress(Conflict):
    """A request with this `Idempotency-Key` is still being answered (a concurrent retry)."""

    code = "idempotency_key_in_progress"
    default_message = _("A request with this Idempotency-Key is still in progress; retry later.")


class IdempotencyReplyErased(HelpdeskError):
    """The answer kept for this `Idempotency-Key` quoted a customer whose data was erased since
    (helpdesk.idempotency.idempotency_replies_erase): it is gone, and the request is not run again."""

    code = "idempotency_reply_erased"
    status = 410
    default_message = _(
        "The answer to this request quoted a customer's data that has since been erased; "
        "the request was done and is not run again."
    )


class RateLimited(HelpdeskError):
    """More API requests in the current window than the caller's limit (helpdesk.ratelimit)."""

    code = "rate_limited"
    status = 429
    default_message = _("Too many requests; retry after the time in the Retry-After header.")
