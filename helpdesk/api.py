"""REST API foundations: the organization-scoped base view, the error format, pagination,
and the departments, members, invitations and notifications resources.

Every API view derives from `OrganizationViewSet` or `OrganizationAPIView`; they resolve the
organization once (helpdesk.tenancy) and refuse a `get_queryset` override: a view lists
its rows through `scoped_queryset(organization=…, membership=…)`, which calls a selector.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.db import transaction
from django.db.models import QuerySet
from django.http.request import RawPostDataException
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, views, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk import alerts, selectors, services
from helpdesk.drf import CursorPagination, ErrorSerializer, IdField
from helpdesk.exceptions import NotFound, RateLimited
from helpdesk.idempotency import (
    HEADER as IDEMPOTENCY_HEADER,
)
from helpdesk.idempotency import (
    Claim,
    Replay,
    caller_scope,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
)
from helpdesk.models import (
    ApiToken,
    Department,
    Invitation,
    InvitationStatus,
    Membership,
    Notification,
    Organization,
    Role,
)
from helpdesk.notifications import notification_text
from helpdesk.ratelimit import RateLimitState, rate_limit_hit, rate_limit_identity
from helpdesk.tenancy import activate_for, resolve_api_membership

# --- The organization-scoped base --------------------------------------------------------


class TenantApiRequest(Request):
    """The request of an organization-scoped API view once `initial` has resolved the organization.

    Types only: at run time this is DRF's Request, with the two attributes set.
    """

    organization: Organization
    membership: Membership


# For mypy the scope is the APIView it is mixed into; at run time a plain mixin.
if TYPE_CHECKING:
    _ScopeBase = views.APIView
else:
    _ScopeBase = object


class _OrganizationScope(_ScopeBase):
    """Resolves the organization once per request; admin-only writes unless a view says otherwise.

    Every view of the API derives from it, so that it also gives every one, without a line of
    its own, the rate limit of its caller (helpdesk.ratelimit: counted once authenticated,
    `RateLimit-*` headers on every answer) and `Idempotency-Key` on its POSTs
    (helpdesk.idempotency: claimed once the organization is known and the request allowed,
    the final answer stored).
    """

    admin_only_writes: ClassVar[bool] = True
    _resolved_membership: Membership | None = None
    _rate_limit: RateLimitState | None = None
    _idempotency_claim: Claim | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must implement scoped_queryset(), not get_queryset().")

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        # Resolved as soon as the caller is known, so that the permission and throttling
        # errors that follow already speak the organization's (or the member's) language.
        self._resolved_membership = resolve_api_membership(request)
        if self._resolved_membership is not None:
            activate_for(self._resolved_membership)
        identity = rate_limit_identity(user=request.user, auth=request.auth)
        if identity is not None:
            self._rate_limit = rate_limit_hit(identity=identity)
            if self._rate_limit is not None and self._rate_limit.exceeded:
                raise RateLimited

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        membership = self._resolved_membership
        if membership is None:
            raise NotFound
        tenant = cast(TenantApiRequest, request)
        tenant.organization = membership.organization
        tenant.membership = membership
        if self.admin_only_writes and request.method not in SAFE_METHODS and not membership.is_admin:
            raise exceptions.PermissionDenied(_("Only admins can change this."))
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if request.method == "POST" and key is not None:
            self._idempotency_claim = idempotency_claim(
                organization=membership.organization,
                scope=caller_scope(user=request.user, auth=request.auth),
                key=key,
                method=request.method,
                path=request.get_full_path(),
                body=_request_body(request),
            )

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, Replay):
            return exc.response
        try:
            return super().handle_exception(exc)
        except Exception:
            # An error that becomes a 500: the key is released, the retry runs again.
            if self._idempotency_claim is not None:
                idempotency_release(claim=self._idempotency_claim)
                self._idempotency_claim = None
            raise

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._rate_limit is not None:
            for name, value in self._rate_limit.headers().items():
                response[name] = value
            if self._rate_limit.exceeded:
                response["Retry-After"] = str(self._rate_limit.reset_seconds)
        claim, self._idempotency_claim = self._idempotency_claim, None
        if claim is not None:
            if getattr(response, "streaming", False):
                idempotency_release(claim=claim)
            else:
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response.render()
                idempotency_complete(claim=claim, response=response)
        return response

    @property
    def organization(self) -> Organization:
        return cast(TenantApiRequest, self.request).organization

    @property
    def membership(self) -> Membership:
        return cast(TenantApiRequest, self.request).membership

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        return self.scoped_queryset(organization=self.organization, membership=self.membership)


def _request_body(request: Request) -> bytes:
    """The raw body, or (when Django has already parsed a multipart body from its stream, as
    the CSRF check of a session does) the parsed fields and files' digests in a stable order."""
    try:
        return bytes(request.body)
    except RawPostDataException:
        pass
    digest = hashlib.sha256()
    data: Any = request.data
    for name in sorted(data.keys()):
        for value in data.getlist(name) if hasattr(data, "getlist") else [data[name]]:
            digest.update(f"{name}\0".encode())
            if hasattr(value, "chunks"):
                for chunk in value.chunks():
                    digest.update(chunk)
            else:
                digest.update(str(value).encode())
            digest.update(b"\0")
    return digest.digest()


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "helpdesk.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": _("Token-based authentication: `Token <key>`."),
        }


class OrganizationAPIView(_OrganizationScope, views.APIView):
    pass


class OrganizationViewSet(_OrganizationScope, viewsets.GenericViewSet):
    lookup_value_converter = "id"


# --- Departments -------------------------------------------------------------------------


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "name", "created_at"]
        read_only_fields = ["id", "created_at"]


class DepartmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    serializer_class = DepartmentSerializer
    pagination_class = CursorPagination

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return selectors.department_list(organization=organization)

    def create(self, request: Request) -> Response:
        payload = DepartmentSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        department = services.department_create(
            organization=self.organization, acting_user=request.user, name=payload.validated_data["name"]
        )
        return Response(DepartmentSerializer(department).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        payload = DepartmentSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        department = selectors.department_get(organization=self.organization, department_id=pk)
        if "name" in payload.validated_data:
            department = services.department_rename(
                organization=self.organization,
                acting_user=request.user,
                department=department,
                name=payload.validated_data["name"],
            )
        return Response(DepartmentSerializer(department).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.department_delete(
            organization=self.organization,
            acting_user=request.user,
            department=selectors.department_get(organization=self.organization, department_id=pk),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Members -----------------------------------------------------------------------------


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    display_name = serializers.SerializerMethodField()
    department_ids = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "username", "email", "display_name", "role", "is_active", "department_ids", "created_at"]

    def get_display_name(self, membership: Membership) -> str:
        return membership.user.get_full_name() or membership.user.username

    def get_department_ids(self, membership: Membership) -> list[int]:
        return sorted(d.pk for d in membership.departments.all())


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)
    department_ids = serializers.ListField(child=IdField(), required=False)


class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    """The organization's members. Nobody is added here: people join by accepting an
    invitation (/api/v1/invitations/); admins change role, departments and the active flag."""

    serializer_class = MemberSerializer
    pagination_class = CursorPagination

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return selectors.member_list(organization=organization)

    @extend_schema(request=MemberUpdateSerializer, responses={200: MemberSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        payload = MemberUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.member_update(
            organization=self.organization,
            acting_user=request.user,
            membership=selectors.member_get(organization=self.organization, membership_id=pk),
            **payload.validated_data,
        )
        member = selectors.member_get(organization=self.organization, membership_id=pk)
        return Response(MemberSerializer(member).data)


# --- Invitations -------------------------------------------------------------------------


class InvitationSerializer(serializers.ModelSerializer):
    """An invitation as its organization's admins see it; its link goes to the invitee only."""

    status = serializers.ChoiceField(choices=InvitationStatus.choices, read_only=True)
    department_ids = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "department_ids", "status", "created_at", "expires_at"]

    def get_department_ids(self, invitation: Invitation) -> list[int]:
        return sorted(d.pk for d in invitation.departments.all())


class InvitationCreateSerializer(serializers.Serializer):
    # Checked by the service (error code invalid_email), the one place that knows an address.
    email = serializers.CharField(allow_blank=True, help_text="The address the invitation link is emailed to.")
    role = serializers.ChoiceField(choices=Role.choices, default=Role.AGENT)
    department_ids = serializers.ListField(child=IdField(), required=False, default=list)


_INVITATION_CLOSED = OpenApiResponse(
    ErrorSerializer, description="Already accepted, declined, revoked or expired (code `invitation_closed`)."
)


class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    """Invitations to join the organization (admins only).

    Creating one emails a single-use link, valid for seven days, to the address; the answer
    is the same whether the address has an account or not. 409 `already_member` for an active
    member of this organization, 409 `invitation_pending` while another invitation to the
    address is pending (revoke it to send a new one), 400 `invalid_email`. The list holds the
    pending invitations; revoking is `POST {id}/revoke/` or `DELETE {id}/`.
    """

    serializer_class = InvitationSerializer
    pagination_class = CursorPagination

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self.membership.is_admin:
            raise exceptions.PermissionDenied(_("Only admins can see and send invitations."))

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        if self.action == "list":
            return selectors.invitation_list_pending(organization=organization)
        return Invitation.objects.none()

    def retrieve(self, request: Request, pk: str) -> Response:
        invitation = selectors.invitation_get(organization=self.organization, invitation_id=pk)
        return Response(InvitationSerializer(invitation).data)

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    def create(self, request: Request) -> Response:
        payload = InvitationCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        invitation, _token = services.invitation_create(
            organization=self.organization, acting_user=request.user, **payload.validated_data
        )
        invitation = selectors.invitation_get(organization=self.organization, invitation_id=invitation.pk)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: InvitationSerializer, 410: _INVITATION_CLOSED})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        services.invitation_revoke(organization=self.organization, acting_user=request.user, invitation_id=pk)
        invitation = selectors.invitation_get(organization=self.organization, invitation_id=pk)
        return Response(InvitationSerializer(invitation).data)

    @extend_schema(responses={204: None, 410: _INVITATION_CLOSED})
    def destroy(self, request: Request, pk: str) -> Response:
        services.invitation_revoke(organization=self.organization, acting_user=request.user, invitation_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Notifications -----------------------------------------------------------------------


class NotificationSerializer(serializers.ModelSerializer):
    """Title and body in the caller's language (written when read: helpdesk.notifications);
    `params` are what the notice is about, for clients that write their own words."""

    title = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()
    params = serializers.JSONField(read_only=True, allow_null=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "params", "url", "created_at", "read_at"]

    def get_title(self, notification: Notification) -> str:
        return notification_text(notification).title

    def get_body(self, notification: Notification) -> str:
        return notification_text(notification).body


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=IdField(), required=False, help_text="Only these; all when absent.")


class NotificationViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """The caller's own notifications (every member may mark their own as read)."""

    serializer_class = NotificationSerializer
    pagination_class = CursorPagination
    admin_only_writes = False

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return selectors.notification_list(organization=organization, user_id=membership.user_id)

    @extend_schema(
        request=MarkReadSerializer,
        responses={200: inline_serializer("MarkedRead", {"marked": serializers.IntegerField()})},
    )
    def mark_read(self, request: Request) -> Response:
        payload = MarkReadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        marked = services.notification_mark_read(
            organization=self.organization,
            user_id=self.membership.user_id,
            notification_ids=payload.validated_data.get("ids"),
        )
        return Response({"marked": marked})


# --- The organization's settings ------------------------------------------------------------


class OrganizationSettingsSerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField(read_only=True)
    language = serializers.CharField(help_text="One of the product's languages: en or ja.")
    time_zone = serializers.CharField(help_text="An IANA time zone name, such as Asia/Tokyo.")
    unassigned_alert_minutes = serializers.IntegerField(
        help_text="Admins are told of a conversation unassigned this long (1–1440)."
    )
    response_window_alert_minutes = serializers.IntegerField(
        help_text="Minutes before the 24-hour reply window closes an unanswered conversation is flagged (5–1380)."
    )
    human_agent_window_alert_hours = serializers.IntegerField(
        help_text="Hours before the 7-day human-agent window closes an unanswered conversation is flagged (1–144)."
    )


class OrganizationSettingsUpdateSerializer(serializers.Serializer):
    # Checked by the service (helpdesk.services.organization_update), the one place of the rules.
    name = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    language = serializers.CharField(required=False, allow_blank=True)
    time_zone = serializers.CharField(required=False, allow_blank=True)
    unassigned_alert_minutes = serializers.IntegerField(required=False)
    response_window_alert_minutes = serializers.IntegerField(required=False)
    human_agent_window_alert_hours = serializers.IntegerField(required=False)


def _organization_settings(organization: Organization) -> dict[str, Any]:
    return OrganizationSettingsSerializer(organization).data


class OrganizationSettingsView(OrganizationAPIView):
    """The organization's name, language, time zone and alert limits (admins only), as on the
    Organization settings page. A PATCH changes the fields it names; bad values: 400 `invalid`
    with the field in `details`."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self.membership.is_admin:
            raise exceptions.PermissionDenied(_("Only admins can change this."))

    @extend_schema(responses={200: OrganizationSettingsSerializer, 403: ErrorSerializer})
    def get(self, request: Request) -> Response:
        return Response(_organization_settings(self.organization))

    @extend_schema(
        request=OrganizationSettingsUpdateSerializer,
        responses={200: OrganizationSettingsSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
    )
    def patch(self, request: Request) -> Response:
        payload = OrganizationSettingsUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        organization = self.organization
        changes = payload.validated_data
        services.organization_update(
            organization=organization,
            acting_user=request.user,
            name=changes.get("name", organization.name),
            language=changes.get("language", organization.language),
            time_zone=changes.get("time_zone", organization.time_zone),
            unassigned_alert_minutes=changes.get("unassigned_alert_minutes"),
            response_window_alert_minutes=changes.get("response_window_alert_minutes"),
            human_agent_window_alert_hours=changes.get("human_agent_window_alert_hours"),
        )
        return Response(_organization_settings(organization))


# --- The caller's preferences ---------------------------------------------------------------


class PreferencesSerializer(serializers.Serializer):
    language = serializers.CharField(help_text="The member's own language; empty: the organization's.")
    time_zone = serializers.CharField(help_text="The member's own time zone; empty: the organization's.")
    alert_events = serializers.ListField(
        child=serializers.ChoiceField(choices=alerts.EVENTS),
        help_text="What the member is alerted of. `unassigned_too_long` is offered to admins only: an agent's "
        "is kept as it was.",
    )
    alert_ways = serializers.ListField(
        child=serializers.ChoiceField(choices=alerts.WAYS), help_text="How the member is alerted."
    )


class PreferencesUpdateSerializer(serializers.Serializer):
    # Language and time zone are checked by the service (400 `invalid`).
    language = serializers.CharField(required=False, allow_blank=True)
    time_zone = serializers.CharField(required=False, allow_blank=True)
    alert_events = serializers.ListField(child=serializers.ChoiceField(choices=alerts.EVENTS), required=False)
    alert_ways = serializers.ListField(child=serializers.ChoiceField(choices=alerts.WAYS), required=False)


def _preferences(membership: Membership) -> dict[str, Any]:
    choices = alerts.choices_of(membership)
    return {
        "language": membership.language,
        "time_zone": membership.time_zone,
        "alert_events": [event for event in alerts.EVENTS if event in choices.events],
        "alert_ways": [way for way in alerts.WAYS if way in choices.ways],
    }


class MyPreferencesView(OrganizationAPIView):
    """The caller's own language, time zone and alert choices, as on the Preferences page."""

    admin_only_writes = False

    @extend_schema(responses={200: PreferencesSerializer})
    def get(self, request: Request) -> Response:
        return Response(_preferences(self.membership))

    @extend_schema(request=PreferencesUpdateSerializer, responses={200: PreferencesSerializer, 400: ErrorSerializer})
    def patch(self, request: Request) -> Response:
        payload = PreferencesUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changes = payload.validated_data
        membership = self.membership
        with transaction.atomic():
            if "language" in changes or "time_zone" in changes:
                services.membership_preferences_update(
                    membership=membership,
                    language=changes.get("language", membership.language),
                    time_zone=changes.get("time_zone", membership.time_zone),
                )
            if "alert_events" in changes or "alert_ways" in changes:
                choices = alerts.choices_of(membership)
                services.membership_alert_preferences_update(
                    membership=membership,
                    events=changes.get("alert_events", choices.events),
                    ways=changes.get("alert_ways", choices.ways),
                )
        return Response(_preferences(membership))


# --- API tokens -------------------------------------------------------------------------------


class ApiTokenSerializer(serializers.ModelSerializer):
    """A token of the caller's: never its key, which is shown once, on the page that creates it."""

    class Meta:
        model = ApiToken
        fields = ["id", "name", "key_prefix", "created_at", "last_used_at", "revoked_at"]


class ApiTokenViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """The caller's own API tokens in this organization, and revoking one of them.

    Tokens are created on the API tokens page only: a token that could make tokens would
    outlive its own revocation."""

    serializer_class = ApiTokenSerializer
    pagination_class = CursorPagination
    admin_only_writes = False

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return selectors.api_token_list(membership=membership)

    @extend_schema(
        summary="Revoke one of your tokens",
        description="It stops working at once, also when it is the token of this request. 404 for a token "
        "of anyone else, or one already revoked.",
        responses={204: None, 404: ErrorSerializer},
    )
    def destroy(self, request: Request, pk: str) -> Response:
        services.api_token_revoke(membership=self.membership, token_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
