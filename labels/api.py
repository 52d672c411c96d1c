"""REST API of labels.

    GET    /api/v1/labels/        the organization's labels, by name (every member)
    POST   /api/v1/labels/        {"name", "color"} (admins)
    GET    /api/v1/labels/{id}/
    PATCH  /api/v1/labels/{id}/   {"name"?, "color"?} (admins)
    DELETE /api/v1/labels/{id}/   (admins): it leaves every conversation and ticket

409 `label_name_taken` for a name the organization already uses (case aside), 400
`invalid_label_color` for a colour outside the palette, 403 for agents' writes.
Labels are put on conversations and tickets under those resources
(`/api/v1/conversations/{id}/labels/`, `/api/v1/tickets/{id}/labels/`).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import OrganizationViewSet
from helpdesk.drf import ErrorSerializer
from helpdesk.models import Membership
from labels import selectors, services
from labels.models import NAME_MAX_LENGTH, Label, LabelColor


class LabelSerializer(serializers.ModelSerializer):
    color = serializers.ChoiceField(choices=LabelColor.choices)

    class Meta:
        model = Label
        fields = ["id", "name", "color", "created_at"]


class LabelBriefSerializer(serializers.Serializer):
    """A label as conversations and tickets show it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    color = serializers.ChoiceField(choices=LabelColor.choices)


def label_brief(label: Label) -> dict[str, Any]:
    return {"id": label.pk, "name": label.name, "color": label.color}


class LabelWriteSerializer(serializers.Serializer):
    # Both checked by the service: 400 `invalid` for an empty or long name after stripping,
    # 400 `invalid_label_color` for a colour outside the palette.
    name = serializers.CharField(
        max_length=200, allow_blank=True, trim_whitespace=False, help_text=f"1–{NAME_MAX_LENGTH} characters."
    )
    color = serializers.CharField(
        max_length=50, required=False, help_text="One of: " + ", ".join(LabelColor.values) + " (default blue)."
    )


_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="`invalid` (name) or `invalid_label_color`."),
    403: OpenApiResponse(ErrorSerializer, description="`permission_denied`: only admins manage labels."),
    409: OpenApiResponse(ErrorSerializer, description="`label_name_taken`: the name is used (case aside)."),
}


class LabelViewSet(OrganizationViewSet):
    """The organization's labels: every member reads them; admins create, change and delete them."""

    serializer_class = LabelSerializer
    # An organization has tens of labels, not thousands: the whole list, by name.
    pagination_class = None

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Label]:
        return selectors.label_list(organization=organization)

    def _label(self, pk: Any) -> Label:
        return selectors.label_get(organization=self.organization, label_id=pk)

    @extend_schema(responses={200: LabelSerializer(many=True)})
    def list(self, request: Request) -> Response:
        return Response(LabelSerializer(self.get_queryset(), many=True).data)

    @extend_schema(responses={200: LabelSerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(LabelSerializer(self._label(pk)).data)

    @extend_schema(request=LabelWriteSerializer, responses={201: LabelSerializer, **_ERRORS})
    def create(self, request: Request) -> Response:
        payload = LabelWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        label = services.label_create(
            organization=self.organization,
            acting_user=request.user,
            name=payload.validated_data["name"],
            color=payload.validated_data.get("color", LabelColor.BLUE),
        )
        return Response(LabelSerializer(label).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=LabelWriteSerializer(partial=True), responses={200: LabelSerializer, 404: ErrorSerializer, **_ERRORS}
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        label = self._label(pk)
        payload = LabelWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        label = services.label_update(
            organization=self.organization,
            acting_user=request.user,
            label=label,
            name=payload.validated_data.get("name"),
            color=payload.validated_data.get("color"),
        )
        return Response(LabelSerializer(label).data)

    @extend_schema(responses={204: None, 403: _ERRORS[403], 404: ErrorSerializer})
    def destroy(self, request: Request, pk: str) -> Response:
        services.label_delete(organization=self.organization, acting_user=request.user, label=self._label(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
