"""REST API of SLA policies.

    GET    /api/v1/sla-policies/        the organization's policies (every member)
    POST   /api/v1/sla-policies/        {"department" | "channel", targets…, "clock"} (admins)
    GET    /api/v1/sla-policies/{id}/
    PATCH  /api/v1/sla-policies/{id}/   {targets…?, "clock"?} (admins)
    DELETE /api/v1/sla-policies/{id}/   (admins)

Targets are minutes (null: no target of that kind). 400 `invalid_sla_target` for a target of
0 or over 30 days, `invalid_sla_clock` for another clock, `sla_policy_exists` for a second
policy of a department or channel; 403 for agents' writes; 404 for another organization's.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import OrganizationViewSet
from helpdesk.drf import ErrorSerializer, IdField
from helpdesk.models import Membership
from sla import selectors, services
from sla.models import SlaClock, SlaPolicy, SlaTarget
from sla.state import SlaState, SlaStatus


class SlaStateSerializer(serializers.Serializer[Any]):
    """The running target of a conversation (its customer's wait) or a ticket (resolution)."""

    target = serializers.ChoiceField(choices=SlaTarget.choices)
    status = serializers.ChoiceField(choices=[status.value for status in SlaStatus])
    due_at = serializers.DateTimeField()
    seconds_left = serializers.IntegerField(help_text="Until it falls due; negative once overdue.")


def sla_state_data(state: SlaState | None) -> dict[str, Any] | None:
    """What the conversations and tickets APIs give as `sla` (null: no running target)."""
    if state is None:
        return None
    return {
        "target": state.target,
        "status": state.status.value,
        "due_at": serializers.DateTimeField().to_representation(state.due_at),
        "seconds_left": int(state.time_left.total_seconds()),
    }


class SlaPolicySerializer(serializers.ModelSerializer):
    department = serializers.IntegerField(source="department_id", read_only=True)
    channel = serializers.IntegerField(source="channel_id", read_only=True, allow_null=True)

    class Meta:
        model = SlaPolicy
        fields = [
            "id",
            "department",
            "channel",
            "first_response_minutes",
            "next_response_minutes",
            "resolution_minutes",
            "clock",
            "created_at",
            "updated_at",
        ]


class SlaPolicyWriteSerializer(serializers.Serializer):
    # The targets are checked by the service (400 `invalid_sla_target`): any value comes through.
    department = IdField(required=False, help_text="A department id.")
    channel = IdField(required=False, help_text="A channel id (wins over department).")
    first_response_minutes = serializers.JSONField(required=False, help_text="1–43200 minutes, or null.")
    next_response_minutes = serializers.JSONField(required=False, help_text="1–43200 minutes, or null.")
    resolution_minutes = serializers.JSONField(required=False, help_text="1–43200 minutes, or null.")
    clock = serializers.CharField(required=False, help_text="business_hours (default) or wall_clock.")


_ERRORS = {
    400: OpenApiResponse(
        ErrorSerializer, description="`invalid_sla_target`, `invalid_sla_clock` or `sla_policy_exists`."
    ),
    403: OpenApiResponse(ErrorSerializer, description="`permission_denied`: only admins manage SLA policies."),
}
TARGETS = services.TARGET_FIELDS


class SlaPolicyViewSet(OrganizationViewSet):
    serializer_class = SlaPolicySerializer
    pagination_class = None

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[SlaPolicy]:
        return selectors.policy_list(organization=organization)

    def _policy(self, pk: Any) -> SlaPolicy:
        return selectors.policy_get(organization=self.organization, policy_id=pk)

    @extend_schema(responses={200: SlaPolicySerializer(many=True)})
    def list(self, request: Request) -> Response:
        return Response(SlaPolicySerializer(self.get_queryset(), many=True).data)

    @extend_schema(responses={200: SlaPolicySerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(SlaPolicySerializer(self._policy(pk)).data)

    @extend_schema(
        request=SlaPolicyWriteSerializer, responses={201: SlaPolicySerializer, 404: ErrorSerializer, **_ERRORS}
    )
    def create(self, request: Request) -> Response:
        payload = SlaPolicyWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        policy = services.policy_create(
            organization=self.organization,
            acting_user=request.user,
            department_id=data.get("department") or 0,
            channel_id=data.get("channel"),
            targets={field: data.get(field) for field in TARGETS},
            clock=data.get("clock", SlaClock.BUSINESS_HOURS),
        )
        return Response(SlaPolicySerializer(policy).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=SlaPolicyWriteSerializer(partial=True),
        responses={200: SlaPolicySerializer, 404: ErrorSerializer, **_ERRORS},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        policy = self._policy(pk)
        payload = SlaPolicyWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        policy = services.policy_update(
            organization=self.organization,
            acting_user=request.user,
            policy=policy,
            targets={field: data[field] if field in data else getattr(policy, field) for field in TARGETS},
            clock=data.get("clock", policy.clock),
        )
        return Response(SlaPolicySerializer(policy).data)

    @extend_schema(responses={204: None, 403: _ERRORS[403], 404: ErrorSerializer})
    def destroy(self, request: Request, pk: str) -> Response:
        services.policy_delete(organization=self.organization, acting_user=request.user, policy=self._policy(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
