"""REST API of availability.

    GET    /api/v1/me/availability/          the caller's status, since when, capacity
    PATCH  /api/v1/me/availability/          {"status": "online" | "away" | "offline"}
    GET    /api/v1/availability/             every active member's status (admins)
    GET    /api/v1/availability/{id}/        one member's (admins)
    PATCH  /api/v1/availability/{id}/        {"status"?, "capacity"?} (admins; capacity null: the default)
    GET    /api/v1/availability/settings/    the organization's rules (admins)
    PATCH  /api/v1/availability/settings/    {"default_capacity"?, "idle_minutes"?, …} (admins)

400 `invalid_status` for another status, 400 `invalid_capacity` for a capacity outside 1–100.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from availability import selectors, services
from availability.models import CAPACITY_MAX, CAPACITY_MIN, Availability, ChangeReason, Status
from helpdesk.api import OrganizationAPIView
from helpdesk.drf import ErrorSerializer
from helpdesk.models import Membership


@extend_schema_field({"type": "string", "enum": list(Status.values)})
class StatusField(serializers.CharField):
    """A status, checked by the service (400 `invalid_status`), not by DRF's generic `invalid`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return True, ""  # refused by the service like any other unknown status
        return super().validate_empty_values(data)


@extend_schema_field({"type": "integer", "minimum": CAPACITY_MIN, "maximum": CAPACITY_MAX, "nullable": True})
class CapacityField(serializers.Field):
    """A capacity, checked by the service (400 `invalid_capacity`)."""

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class AvailabilitySerializer(serializers.Serializer):
    membership_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Status.choices)
    status_since = serializers.DateTimeField()
    capacity = serializers.IntegerField(allow_null=True, help_text="The member's own; null: the organization's.")
    effective_capacity = serializers.IntegerField(help_text="The capacity that applies: own, else the default.")


class StatusUpdateSerializer(serializers.Serializer):
    status = StatusField()


class MemberAvailabilityUpdateSerializer(serializers.Serializer):
    status = StatusField(required=False)
    capacity = CapacityField(required=False, allow_null=True)


_INVALID = OpenApiResponse(ErrorSerializer, description="`invalid_status` or `invalid_capacity`.")


def _body(availability: Availability, *, default_capacity: int) -> dict[str, Any]:
    return {
        "membership_id": availability.membership_id,
        "status": availability.status,
        "status_since": availability.status_since,
        "capacity": availability.capacity,
        "effective_capacity": availability.capacity if availability.capacity is not None else default_capacity,
    }


class MyAvailabilityView(OrganizationAPIView):
    """The caller's own status in the organization; every member may change their own."""

    admin_only_writes = False

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return Availability.objects.filter(organization=organization, membership=membership)

    def _answer(self) -> Response:
        availability = selectors.availability_of(membership=self.membership)
        default = selectors.default_capacity_of(organization=self.organization)
        return Response(AvailabilitySerializer(_body(availability, default_capacity=default)).data)

    @extend_schema(responses={200: AvailabilitySerializer})
    def get(self, request: Request) -> Response:
        return self._answer()

    @extend_schema(request=StatusUpdateSerializer, responses={200: AvailabilitySerializer, 400: _INVALID})
    def patch(self, request: Request) -> Response:
        payload = StatusUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.availability_set(
            membership=self.membership,
            status=payload.validated_data["status"],
            reason=ChangeReason.CHOSEN,
            acting_user=request.user,
        )
        return self._answer()


class _AdminOnly(OrganizationAPIView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self.membership.is_admin:
            raise exceptions.PermissionDenied(_("Only admins can see everyone's status."))

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return selectors.availability_list(organization=organization)


class AvailabilityListView(_AdminOnly):
    """Every active member's status (admins)."""

    @extend_schema(responses={200: AvailabilitySerializer(many=True)})
    def get(self, request: Request) -> Response:
        default = selectors.default_capacity_of(organization=self.organization)
        rows = [
            _body(selectors.availability_of_member(member), default_capacity=default) for member in self.get_queryset()
        ]
        return Response(AvailabilitySerializer(rows, many=True).data)


class MemberAvailabilityView(_AdminOnly):
    """One member's status and capacity (admins set either; an admin's change is recorded as such)."""

    def _member(self, membership_id: int) -> Membership:
        from_list = self.get_queryset().filter(pk=membership_id).first()
        if from_list is None:
            raise exceptions.NotFound
        return from_list

    def _answer(self, member: Membership) -> Response:
        availability = selectors.availability_of(membership=member)
        default = selectors.default_capacity_of(organization=self.organization)
        return Response(AvailabilitySerializer(_body(availability, default_capacity=default)).data)

    @extend_schema(responses={200: AvailabilitySerializer})
    def get(self, request: Request, membership_id: int) -> Response:
        return self._answer(self._member(membership_id))

    @extend_schema(request=MemberAvailabilityUpdateSerializer, responses={200: AvailabilitySerializer, 400: _INVALID})
    def patch(self, request: Request, membership_id: int) -> Response:
        member = self._member(membership_id)
        payload = MemberAvailabilityUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if "capacity" in data:
            services.availability_capacity_set(membership=member, capacity=data["capacity"], acting_user=request.user)
        if "status" in data:
            services.availability_set(
                membership=member, status=data["status"], reason=ChangeReason.ADMIN, acting_user=request.user
            )
        return self._answer(member)


class AvailabilitySettingsSerializer(serializers.Serializer):
    default_capacity = serializers.IntegerField(help_text="Open conversations an agent may hold at once (1–100).")
    idle_minutes = serializers.IntegerField(help_text="Minutes without activity before an online agent is away.")
    requeue_when_offline = serializers.BooleanField(
        help_text="Whether an offline agent's open conversations return to the queue."
    )
    offline_grace_minutes = serializers.IntegerField(help_text="Minutes offline before they return (0–1440).")


class AvailabilitySettingsUpdateSerializer(serializers.Serializer):
    # The ranges are the service's (availability.services.availability_settings_update).
    default_capacity = serializers.IntegerField(required=False)
    idle_minutes = serializers.IntegerField(required=False)
    requeue_when_offline = serializers.BooleanField(required=False)
    offline_grace_minutes = serializers.IntegerField(required=False)


class AvailabilitySettingsView(_AdminOnly):
    """The organization's availability rules (admins), as on the Availability settings page.
    A PATCH changes the fields it names: 400 `invalid_capacity` or `invalid` (field in `details`)."""

    @extend_schema(responses={200: AvailabilitySettingsSerializer})
    def get(self, request: Request) -> Response:
        rules = services.availability_settings_get(organization=self.organization)
        return Response(AvailabilitySettingsSerializer(rules).data)

    @extend_schema(
        request=AvailabilitySettingsUpdateSerializer,
        responses={200: AvailabilitySettingsSerializer, 400: _INVALID},
    )
    def patch(self, request: Request) -> Response:
        payload = AvailabilitySettingsUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        rules = services.availability_settings_get(organization=self.organization)
        current = AvailabilitySettingsSerializer(rules).data
        rules = services.availability_settings_update(
            organization=self.organization, acting_user=request.user, **{**current, **payload.validated_data}
        )
        return Response(AvailabilitySettingsSerializer(rules).data)
