"""Writes of tenancy data: organizations, departments, members, API tokens, notifications."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail, send_mass_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpdesk import alerts, datetimes, tasks
from helpdesk.converters import parse_id
from helpdesk.exceptions import (
    AlreadyMember,
    Conflict,
    EmailTaken,
    InvalidEmail,
    InvalidInput,
    InvitationClosed,
    InvitationPending,
    LastAdmin,
    NotFound,
    UsernameTaken,
)
from helpdesk.models import (
    HUMAN_AGENT_WINDOW_ALERT_MAX_HOURS,
    HUMAN_AGENT_WINDOW_ALERT_MIN_HOURS,
    RESPONSE_WINDOW_ALERT_MAX_MINUTES,
    RESPONSE_WINDOW_ALERT_MIN_MINUTES,
    UNASSIGNED_ALERT_MAX_MINUTES,
    UNASSIGNED_ALERT_MIN_MINUTES,
    AlertPreferences,
    ApiToken,
    Department,
    Invitation,
    InvitationStatus,
    Membership,
    Notification,
    Organization,
    Role,
)
from helpdesk.names import user_name
from helpdesk.notifications import has_writer, notification_words, reading_as
from helpdesk.signals import notifications_created, notifications_read, scope_changed_send

User = get_user_model()
logger = logging.getLogger(__name__)


@transaction.atomic
def organization_create(
    *,
    name: str,
    slug: str,
    admin_username: str,
    admin_password: str,
    admin_email: str = "",
    time_zone: str = "UTC",
    language: str = "en",
) -> tuple[Organization, Membership]:
    """A new organization with its first admin (an existing user is reused, password unchanged)."""
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(_("An organization with this slug already exists."), details={"slug": slug})
    organization = Organization.objects.create(name=name, slug=slug, time_zone=time_zone, language=language)
    # "Alice" and "alice" are one user.
    user = User.objects.filter(username__iexact=admin_username.strip()).first()
    if user is None:
        admin_email = normalized_email(admin_email) if admin_email.strip() else ""
        _check_names_free(username=admin_username.strip(), email=admin_email)
        user = User(username=admin_username.strip(), email=admin_email)
        _check_password(admin_password, user)
        user.set_password(admin_password)
        user.save()
    membership = Membership.objects.create(organization=organization, user=user, role=Role.ADMIN)
    return organization, membership


def _checked_language(language: str, *, blank: bool = False) -> str:
    if (blank and language == "") or language in dict(settings.LANGUAGES):
        return language
    message = _("Choose one of the languages offered.")
    raise InvalidInput(message, details={"language": [message]})


def _checked_time_zone(time_zone: str, *, blank: bool = False) -> str:
    time_zone = time_zone.strip()
    if (blank and time_zone == "") or datetimes.is_time_zone(time_zone):
        return time_zone
    message = _("Not a time zone: choose one such as Asia/Tokyo or Europe/London.")
    raise InvalidInput(message, details={"time_zone": [message]})


@transaction.atomic
def organization_update(
    *,
    organization: Organization,
    acting_user: Any,
    name: str,
    language: str,
    time_zone: str,
    unassigned_alert_minutes: int | None = None,
    response_window_alert_minutes: int | None = None,
    human_agent_window_alert_hours: int | None = None,
) -> Organization:
    """The organization's name, the language and time zone its members read in unless
    they chose their own (Preferences), how long a conversation may wait unassigned
    before its admins are told, and how long before each Messenger reply window closes an
    unanswered conversation is flagged (None: kept as it is)."""
    name = name.strip()
    if not name:
        message = _("This field is required.")
        raise InvalidInput(_("The organization needs a name."), details={"name": [message]})
    limit = Organization._meta.get_field("name").max_length or 0
    if len(name) > limit:
        message = _("At most %(max)d characters.") % {"max": limit}
        raise InvalidInput(message, details={"name": [message]})
    organization.name = name
    organization.language = _checked_language(language)
    organization.time_zone = _checked_time_zone(time_zone)
    fields = ["name", "language", "time_zone"]
    limits = (
        (
            "unassigned_alert_minutes",
            unassigned_alert_minutes,
            UNASSIGNED_ALERT_MIN_MINUTES,
            UNASSIGNED_ALERT_MAX_MINUTES,
        ),
        (
            "response_window_alert_minutes",
            response_window_alert_minutes,
            RESPONSE_WINDOW_ALERT_MIN_MINUTES,
            RESPONSE_WINDOW_ALERT_MAX_MINUTES,
        ),
        (
            "human_agent_window_alert_hours",
            human_agent_window_alert_hours,
            HUMAN_AGENT_WINDOW_ALERT_MIN_HOURS,
            HUMAN_AGENT_WINDOW_ALERT_MAX_HOURS,
        ),
    )
    for field, value, low, high in limits:
        if value is None:
            continue
        if not low <= value <= high:
            words = (
                _("Between %(min)d and %(max)d hours.")
                if field.endswith("_hours")
                else _("Between %(min)d and %(max)d minutes.")
            )
            message = words % {"min": low, "max": high}
            raise InvalidInput(message, details={field: [message]})
        setattr(organization, field, value)
        fields.append(field)
    organization.save(update_fields=fields)
    return organization


@transaction.atomic
def membership_preferences_update(*, membership: Membership, language: str, time_zone: str) -> Membership:
    """The member's own language and time zone; blank: the organization's."""
    membership.language = _checked_language(language, blank=True)
    membership.time_zone = _checked_time_zone(time_zone, blank=True)
    membership.save(update_fields=["language", "time_zone"])
    return membership


@transaction.atomic
def membership_alert_preferences_update(*, membership: Membership, events: Iterable[str], ways: Iterable[str]) -> None:
    """Which events the member is alerted of, and which ways (helpdesk.alerts). The events
    only admins are offered (alerts.ADMIN_EVENTS) are kept as they were for an agent: they
    matter again if the agent becomes an admin."""
    events, ways = set(events), set(ways)
    if not membership.is_admin:
        events = (events - alerts.ADMIN_EVENTS) | (alerts.choices_of(membership).events & alerts.ADMIN_EVENTS)
    unknown = (events - set(alerts.EVENTS)) | (ways - set(alerts.WAYS))
    if unknown:
        raise InvalidInput(_("Unknown alert: %(names)s.") % {"names": ", ".join(sorted(unknown))})
    AlertPreferences.objects.update_or_create(
        membership=membership,
        defaults={
            "organization_id": membership.organization_id,
            **{event: event in events for event in alerts.EVENTS},
            **{way: way in ways for way in alerts.WAYS},
        },
    )


_EMAIL_MAX_LENGTH = 254  # the column of User.email and Invitation.email


def normalized_email(email: str) -> str:
    """The address as typed, without surrounding spaces; InvalidEmail unless it is one."""
    email = email.strip()
    try:
        if len(email) > _EMAIL_MAX_LENGTH:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        raise InvalidEmail(details={"email": [InvalidEmail.default_message]}) from None
    return email


def _check_names_free(*, username: str, email: str) -> None:
    """Usernames and email addresses are one name whatever their case ("Agent" is "agent");
    the database holds the same rule (unique indexes on lower(username) and lower(email))."""
    if User.objects.filter(username__iexact=username).exists():
        raise UsernameTaken(details={"username": [UsernameTaken.default_message]})
    if email and User.objects.filter(email__iexact=email).exists():
        raise EmailTaken(details={"email": [EmailTaken.default_message]})


def _check_password(password: str, user: Any) -> None:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages), details={"password": error.messages}) from None


def name_clean(name: Any, *, max_length: int, missing: str, missing_detail: str = "") -> str:
    """A name as stored (surrounding spaces taken off: a department, a label, a saved view), or
    InvalidInput with the form's words: callers without a form get the form's rules here, not a
    database error. ``missing``: what an empty name is told (``missing_detail`` beside the field,
    the same words unless given)."""
    name = str(name or "").strip()
    if not name:
        raise InvalidInput(missing, details={"name": [missing_detail or missing]})
    if len(name) > max_length:
        message = _("At most %(max)d characters.") % {"max": max_length}
        raise InvalidInput(message, details={"name": [message]})
    if "\x00" in name:
        message = _("Null characters are not allowed.")
        raise InvalidInput(message, details={"name": [message]})
    return name


def _department_name(name: str) -> str:
    return name_clean(
        name,
        max_length=Department._meta.get_field("name").max_length or 0,
        missing=_("A department needs a name."),
        missing_detail=_("This field is required."),
    )


def department_create(*, organization: Organization, acting_user: Any, name: str) -> Department:
    name = _department_name(name)
    try:
        with transaction.atomic():
            return Department.objects.create(organization=organization, name=name)
    except IntegrityError:
        raise Conflict(
            _("A department with this name already exists."), details={"name": [_("Already in use.")]}
        ) from None


def department_rename(*, organization: Organization, acting_user: Any, department: Department, name: str) -> Department:
    if department.organization_id != organization.pk:
        raise NotFound
    department.name = _department_name(name)
    try:
        with transaction.atomic():
            department.save(update_fields=["name"])
    except IntegrityError:
        raise Conflict(
            _("A department with this name already exists."), details={"name": [_("Already in use.")]}
        ) from None
    return department


@transaction.atomic
def department_delete(*, organization: Organization, acting_user: Any, department: Department) -> None:
    """Delete a department that no live channel belongs to.

    The row stays, marked deleted (see Department): deleted channels, their conversations
    and the tickets made in the department keep their reference and stay readable. It
    leaves every list and choice, its name is free again, and its members no longer work
    in it. Each of settings.DEPARTMENT_DELETE_GUARDS may refuse with DepartmentInUse (409),
    naming what holds the department and what to do.
    """
    if department.organization_id != organization.pk:
        raise NotFound
    # Locked: a channel created in or moved to this department meanwhile waits, then fails.
    locked = (
        Department.objects.select_for_update()
        .filter(organization=organization, pk=department.pk, deleted_at__isnull=True)
        .first()
    )
    if locked is None:
        raise NotFound
    for guard in _department_delete_guards():
        guard(organization=organization, department=locked)
    members = Membership.departments.through.objects.filter(department_id=locked.pk)
    scope_changed_send(organization_id=organization.pk, user_ids=members.values_list("membership__user_id", flat=True))
    members.delete()
    Invitation.departments.through.objects.filter(department_id=locked.pk).delete()
    locked.deleted_at = timezone.now()
    locked.save(update_fields=["deleted_at"])
    department.deleted_at = locked.deleted_at


def _department_delete_guards() -> list[Callable[..., None]]:
    return [import_string(path) for path in getattr(settings, "DEPARTMENT_DELETE_GUARDS", ())]


# --- Invitations ---------------------------------------------------------------------------

INVITATION_VALID_FOR = timedelta(days=7)

_CLOSED_MESSAGES = {
    InvitationStatus.ACCEPTED: gettext_lazy("This invitation has already been accepted."),
    InvitationStatus.DECLINED: gettext_lazy("This invitation was declined."),
    InvitationStatus.REVOKED: gettext_lazy("This invitation was withdrawn by an admin of the organization."),
    InvitationStatus.EXPIRED: gettext_lazy(
        "This invitation has expired. Ask an admin of the organization for a new one."
    ),
}


@transaction.atomic
def invitation_create(
    *,
    organization: Organization,
    acting_user: Any,
    email: str,
    role: str = Role.AGENT,
    department_ids: Iterable[int] = (),
) -> tuple[Invitation, str]:
    """Invite an email address to join with a role and departments; the link goes out by email
    after commit. Returns the invitation and its token (only its hash is kept).

    Only this organization's own members and invitations are looked at: whether the address
    has an account elsewhere changes nothing in the answer. A second invitation to an address
    with one pending is refused (InvitationPending): the admin revokes the first to send anew.
    """
    email = normalized_email(email)
    _check_role(role)
    departments = _departments_of(organization, department_ids)
    if Membership.objects.filter(organization=organization, is_active=True, user__email__iexact=email).exists():
        raise AlreadyMember(details={"email": [_("Already a member of this organization.")]})
    now = timezone.now()
    open_invitations = Invitation.objects.select_for_update().filter(
        organization=organization,
        email__iexact=email,
        accepted_at__isnull=True,
        declined_at__isnull=True,
        revoked_at__isnull=True,
    )
    for open_invitation in open_invitations:
        if open_invitation.expires_at > now:
            raise InvitationPending(details={"email": [_("An invitation to this address is already pending.")]})
        # An expired invitation is closed so that the new one can take its place.
        open_invitation.revoked_at = now
        open_invitation.save(update_fields=["revoked_at"])
    token = Invitation.generate_token()
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                organization=organization,
                email=email,
                role=role,
                invited_by=acting_user if getattr(acting_user, "pk", None) else None,
                token_hash=Invitation.hash_token(token),
                expires_at=now + INVITATION_VALID_FOR,
            )
    except IntegrityError:  # a concurrent invitation to the same address
        raise InvitationPending(details={"email": [_("An invitation to this address is already pending.")]}) from None
    invitation.departments.set(departments)
    # Sent here rather than by a Celery task: the token would otherwise sit in the broker.
    transaction.on_commit(lambda: _invitation_email_send(invitation_id=invitation.pk, token=token))
    return invitation, token


def invitation_url(*, token: str) -> str:
    return settings.PUBLIC_URL + reverse("invitation_respond", kwargs={"token": token})


def _invitation_email_send(*, invitation_id: int, token: str) -> None:
    """The invitee's language is unknown: the email speaks the organization's."""
    invitation = Invitation.objects.select_related("organization", "invited_by").get(pk=invitation_id)
    organization = invitation.organization
    zone = datetimes.zone(organization.time_zone)
    with translation.override(organization.language):
        context = {
            "organization": organization.name,
            "inviter": user_name(invitation.invited_by),
            "role": invitation.get_role_display(),
            "url": invitation_url(token=token),
            "expires_at": datetimes.datetime_text(invitation.expires_at, time_zone=zone),
            "time_zone": organization.time_zone if datetimes.is_time_zone(organization.time_zone) else "UTC",
        }
        subject = _("Invitation to join %(organization)s") % {"organization": organization.name}
        body = render_to_string("helpdesk/email/invitation.txt", context)
    try:
        send_mail(subject, body, None, [invitation.email])
    except Exception:  # the mail server's own errors; the admin still sees the invitation pending
        logger.exception("invitation %s: the email could not be sent", invitation_id)


def _open_invitation(token: str) -> Invitation:
    """The invitation of this link, locked; NotFound or InvitationClosed unless it can be answered."""
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("organization")
        .filter(token_hash=Invitation.hash_token(token))
        .first()
    )
    if invitation is None:
        raise NotFound(_("This invitation link is not valid."))
    check_invitation_open(invitation)
    return invitation


def check_invitation_open(invitation: Invitation) -> None:
    """InvitationClosed (410) naming why, unless the invitation can still be answered."""
    status = invitation.status
    if status != InvitationStatus.PENDING:
        raise InvitationClosed(_CLOSED_MESSAGES[InvitationStatus(status)], details={"status": status})


@transaction.atomic
def invitation_accept(*, token: str, user: Any) -> Membership:
    """The signed-in user joins with the invited role and departments.

    The link is the credential: it was delivered to the invited address, so whoever holds it
    may accept, also signed in under an account with another address (a work address invited,
    a personal one on the account). Refusing would not make a leaked link safer, since the
    same link also lets a new person sign up, and would push people into a second account.
    What binds is the single use: an invitation is accepted once, by one user.
    """
    invitation = _open_invitation(token)
    organization = invitation.organization
    membership = Membership.objects.select_for_update().filter(organization=organization, user=user).first()
    if membership is not None and membership.is_active:
        raise AlreadyMember(_("You are already a member of %(organization)s.") % {"organization": organization.name})
    if membership is None:
        membership = Membership.objects.create(organization=organization, user=user, role=invitation.role)
    else:  # deactivated earlier: the invitation brings them back with its role
        membership.role = invitation.role
        membership.is_active = True
        membership.save(update_fields=["role", "is_active"])
    membership.departments.set(invitation.departments.filter(deleted_at__isnull=True))
    scope_changed_send(organization_id=organization.pk, user_ids=[user.pk])
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def invitation_signup(
    *, token: str, username: str, password: str, first_name: str = "", last_name: str = ""
) -> Membership:
    """A new person's account, with the invited address, and their acceptance of the invitation."""
    invitation = _open_invitation(token)
    username = username.strip()
    _check_names_free(username=username, email=invitation.email)
    user = User(username=username, email=invitation.email, first_name=first_name.strip(), last_name=last_name.strip())
    _check_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # taken meanwhile
        _check_names_free(username=username, email=invitation.email)
        raise UsernameTaken(details={"username": [UsernameTaken.default_message]}) from None
    return invitation_accept(token=token, user=user)


@transaction.atomic
def invitation_decline(*, token: str) -> Invitation:
    invitation = _open_invitation(token)
    invitation.declined_at = timezone.now()
    invitation.save(update_fields=["declined_at"])
    return invitation


@transaction.atomic
def invitation_revoke(*, organization: Organization, acting_user: Any, invitation_id: int | str) -> Invitation:
    invitation = (
        Invitation.objects.select_for_update().filter(organization=organization, pk=parse_id(invitation_id)).first()
    )
    if invitation is None:
        raise NotFound
    check_invitation_open(invitation)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    return invitation


# --- Members -----------------------------------------------------------------------------


@transaction.atomic
def member_update(
    *,
    organization: Organization,
    acting_user: Any,
    membership: Membership,
    role: str | None = None,
    department_ids: Iterable[int] | None = None,
    is_active: bool | None = None,
) -> Membership:
    if membership.organization_id != organization.pk:
        raise NotFound
    # Lock the organization's admins so that two admins demoting each other cannot leave none.
    list(Membership.objects.select_for_update().filter(organization=organization, role=Role.ADMIN))
    fields: list[str] = []
    if role is not None:
        _check_role(role)
        membership.role = role
        fields.append("role")
    if is_active is not None:
        membership.is_active = is_active
        fields.append("is_active")
    if fields:
        if membership.role != Role.ADMIN or not membership.is_active:
            others = Membership.objects.filter(organization=organization, role=Role.ADMIN, is_active=True).exclude(
                pk=membership.pk
            )
            if not others.exists():
                raise LastAdmin
        membership.save(update_fields=fields)
    if department_ids is not None:
        departments = _departments_of(organization, department_ids)
        removed = set(membership.departments.values_list("pk", flat=True)) - {d.pk for d in departments}
        membership.departments.set(departments)
        _departments_removed(organization=organization, acting_user=acting_user, membership=membership, ids=removed)
    if is_active is False:
        ApiToken.objects.filter(membership=membership, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if fields or department_ids is not None:
        scope_changed_send(organization_id=organization.pk, user_ids=[membership.user_id])
    return membership


def _departments_removed(
    *, organization: Organization, acting_user: Any, membership: Membership, ids: set[int]
) -> None:
    """Each of settings.MEMBERSHIP_DEPARTMENTS_REMOVED_HOOKS lets go of what the member held
    in departments they no longer work in (apps above helpdesk own it: named, not imported)."""
    for path in getattr(settings, "MEMBERSHIP_DEPARTMENTS_REMOVED_HOOKS", ()) if ids else ():
        import_string(path)(
            organization=organization, acting_user=acting_user, membership=membership, department_ids=ids
        )


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise InvalidInput(_("Unknown role."), details={"role": [_("Choose admin or agent.")]})


def _departments_of(organization: Organization, department_ids: Iterable[int]) -> list[Department]:
    wanted = {int(pk) for pk in department_ids}
    departments = list(Department.objects.filter(organization=organization, pk__in=wanted, deleted_at__isnull=True))
    if len(departments) != len(wanted):
        raise NotFound(_("Department not found."))
    return departments


def api_token_create(*, membership: Membership, name: str, key: str | None = None) -> tuple[ApiToken, str]:
    """A new token; the key is returned once and only its hash is kept."""
    key = key or ApiToken.generate_key()
    token = ApiToken.objects.create(
        organization=membership.organization,
        membership=membership,
        name=name.strip() or _("API token"),
        key_hash=ApiToken.hash_key(key),
        key_prefix=key[:10],
    )
    return token, key


def api_token_revoke(*, membership: Membership, token_id: int) -> None:
    updated = ApiToken.objects.filter(
        organization=membership.organization, membership=membership, pk=token_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise NotFound


def notification_create(
    *,
    organization: Organization,
    user_ids: Iterable[int],
    kind: str,
    params: Mapping[str, Any] | None = None,
    title: str = "",
    body: str = "",
    url: str = "",
    dedupe_key: str = "",
) -> int:
    """Notify users; with a dedupe_key each user is told at most once. Returns how many were new.

    With `params`, the notice is written when read, in each reader's language and time zone
    (helpdesk.notifications); `title` and `body` default to its words in the organization's
    language, kept as the fallback. Without, `title` and `body` are shown as given.
    Members who turned this kind's event, or the app's notices, off in Preferences are not
    told (helpdesk.alerts)."""
    if dedupe_key:
        return notifications_create_many(
            organization=organization,
            kind=kind,
            notices=[Notice(user_ids=user_ids, dedupe_key=dedupe_key, params=params, title=title, body=body, url=url)],
        )
    user_ids = alerts.kind_wanted_in_app(organization=organization, user_ids=user_ids, kind=kind)
    if params is not None:
        params = dict(params)
        if not title and has_writer(kind):
            with reading_as(language=organization.language, time_zone=organization.time_zone):
                text = notification_words(kind, params)
            title, body = text.title, body or text.body
    rows = [
        Notification(
            organization=organization,
            user_id=user_id,
            kind=kind,
            params=params,
            title=title[:200],
            body=body,
            url=url,
            dedupe_key=dedupe_key,
        )
        for user_id in set(user_ids)
    ]
    if not rows:
        return 0
    Notification.objects.bulk_create(rows)
    _notifications_told(organization, [(row.user_id, row.pk) for row in rows], kind=kind)
    return len(rows)


@dataclass(frozen=True)
class Notice:
    """One subject's notice for `notifications_create_many`: its readers and words, as
    `notification_create` takes them."""

    user_ids: Iterable[int]
    dedupe_key: str
    params: Mapping[str, Any] | None = None
    title: str = ""
    body: str = ""
    url: str = ""


def notifications_create_many(*, organization: Organization, kind: str, notices: Sequence[Notice]) -> int:
    """`notification_create` for many subjects of one kind at once (a sweep's batch), each
    told at most once per user by its dedupe_key, in four queries whatever their number.
    Returns how many were new."""
    wanted = alerts.kind_wanted_in_app(
        organization=organization, user_ids={user_id for notice in notices for user_id in notice.user_ids}, kind=kind
    )
    rows: list[Notification] = []
    # The stored words are the organization's (one language switch for the whole batch).
    with reading_as(language=organization.language, time_zone=organization.time_zone):
        for notice in notices:
            rows.extend(_notice_rows(organization, kind, notice, wanted))
    if not rows:
        return 0
    keys = {row.dedupe_key for row in rows}
    users = {row.user_id for row in rows}
    existing = set(
        Notification.objects.filter(organization=organization, dedupe_key__in=keys, user_id__in=users).values_list(
            "user_id", "dedupe_key"
        )
    )
    fresh = [row for row in rows if (row.user_id, row.dedupe_key) not in existing]
    Notification.objects.bulk_create(fresh, ignore_conflicts=True)
    if fresh:
        # Rows inserted ignoring conflicts come back without their ids.
        fresh_keys = {(row.user_id, row.dedupe_key) for row in fresh}
        told = Notification.objects.filter(
            organization=organization,
            dedupe_key__in={key for _user, key in fresh_keys},
            user_id__in={user for user, _key in fresh_keys},
        ).values_list("user_id", "dedupe_key", "pk")
        _notifications_told(
            organization,
            [(user_id, pk) for user_id, key, pk in told if (user_id, key) in fresh_keys],
            kind=kind,
        )
    return len(fresh)


def _notice_rows(organization: Organization, kind: str, notice: Notice, wanted: set[int]) -> list[Notification]:
    readers = set(notice.user_ids) & wanted
    if not readers:
        return []
    params, title, body = notice.params, notice.title, notice.body
    if params is not None:
        params = dict(params)
        if not title and has_writer(kind):
            text = notification_words(kind, params)
            title, body = text.title, body or text.body
    return [
        Notification(
            organization=organization,
            user_id=user_id,
            kind=kind,
            params=params,
            title=title[:200],
            body=body,
            url=notice.url,
            dedupe_key=notice.dedupe_key,
        )
        for user_id in readers
    ]


def _notifications_told(organization: Organization, rows: list[tuple[int, int | None]], *, kind: str) -> None:
    """Each member's pages are told of their new notification (live.receivers, after commit)."""
    notifications_created.send(
        sender=None,
        organization_id=organization.pk,
        notifications=[(user_id, notification_id, kind) for user_id, notification_id in rows],
    )


def notification_mark_read(*, organization: Organization, user_id: int, notification_ids: Iterable[int] | None) -> int:
    notifications = Notification.objects.filter(organization=organization, user_id=user_id, read_at__isnull=True)
    if notification_ids is not None:
        notifications = notifications.filter(pk__in=list(notification_ids))
    read = notifications.update(read_at=timezone.now())
    if read:
        notifications_read.send(sender=None, organization_id=organization.pk, user_id=user_id)
    return read


@dataclass(frozen=True)
class Reader:
    """Someone a notice is for: who, where an email reaches them, and how they read."""

    user_id: int
    email: str
    language: str
    time_zone: str


def admin_readers(*, organization: Organization) -> list[Reader]:
    """The organization's active admins, each with their language and time zone (their own
    choice in Preferences, else the organization's): whom its notices are for."""
    memberships = Membership.objects.filter(organization=organization, role=Role.ADMIN, is_active=True)
    return [
        Reader(
            user_id=user_id,
            email=email,
            language=language or organization.language,
            time_zone=time_zone or organization.time_zone,
        )
        for user_id, email, language, time_zone in memberships.values_list(
            "user_id", "user__email", "language", "time_zone"
        )
    ]


def admin_recipients(*, organization: Organization) -> list[tuple[int, str]]:
    """The organization's active admins, as (user id, email address)."""
    return [(reader.user_id, reader.email) for reader in admin_readers(organization=organization)]


def admin_user_ids(*, organization: Organization) -> list[int]:
    return [reader.user_id for reader in admin_readers(organization=organization)]


def email_send(*, subject: str, body: str, to: list[str]) -> None:
    """One plain-text email from DEFAULT_FROM_EMAIL; the mail server's errors are raised."""
    send_mail(subject, body, None, to, fail_silently=False)


def email_send_later(*, subject: str, body: str, to: list[str]) -> None:
    """Queue an email after commit, so that the request answers the same whether or not it
    sends one (a password reset must not tell by its timing which addresses have an account).
    When the broker cannot take it, the email is sent here rather than lost."""

    def dispatch() -> None:
        try:
            tasks.email_send.delay(subject, body, to)
        except Exception:
            logger.warning("could not queue an email; sending it now", exc_info=True)
            try:
                email_send(subject=subject, body=body, to=to)
            except Exception:
                logger.exception("an email could not be sent")

    transaction.on_commit(dispatch)


Mail = tuple[str, str, str, list[str]]


def mails_send_after_commit(mails: list[Mail]) -> None:
    """send_mass_mail once the transaction commits; a mail failure is logged, not raised
    (the in-app notice exists already, and the mail server may be down)."""

    def send() -> None:
        try:
            send_mass_mail(tuple(mails), fail_silently=False)
        except Exception:
            logger.exception("Sending %d alert emails failed", len(mails))

    if mails:
        transaction.on_commit(send)
