"""REST API foundations: the organization-scoped base view, the error format, pagination,
and the departments, members, invitations and notifications resources.

Every API view derives from `OrganizationViewSet` or `OrganizationAPIView`; they resolve the
organization once (helpdesk.tenancy) and refuse a `get_queryset` override: a view lists
its rows through `scoped_queryset(organization=…, membership=…)`, which calls a selector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, views, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk import selectors, services
from helpdesk.drf import CursorPagination, ErrorSerializer, IdField
from helpdesk.exceptions import NotFound
from helpdesk.models import Department, Invitation, InvitationStatus, Membership, Notification, Organization, Role
from helpdesk.notifications import notification_text
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
    """Resolves the organization once per request; admin-only writes unless a view says otherwise."""

    admin_only_writes: ClassVar[bool] = True
    _resolved_membership: Membership | None = None

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
