"""REST API of outgoing webhooks (admins only): endpoints, their secret, their delivery log,
and "send again" of a delivery."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, pagination, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import OrganizationViewSet
from helpdesk.drf import ErrorSerializer
from helpdesk.models import Membership
from outgoing import selectors, services
from outgoing.models import Delivery, EventType, WebhookEndpoint

ERRORS = {
    400: OpenApiResponse(
        ErrorSerializer,
        description="endpoint_not_allowed (not a public https address; `details.reason` says why), "
        "invalid_event_types, invalid.",
    ),
    403: OpenApiResponse(ErrorSerializer, description="permission_denied: admins only."),
    404: OpenApiResponse(ErrorSerializer, description="Not an endpoint of your organization."),
}


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices))
    secret_hint = serializers.SerializerMethodField(help_text="The secret's last 4 characters, to tell secrets apart.")

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "secret_hint",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "disabled_reason": {"help_text": "`failing`: every delivery failed for a day; empty: by an admin."},
        }

    def get_secret_hint(self, endpoint: WebhookEndpoint) -> str:
        return endpoint.secret[-4:]


class WebhookEndpointSecretSerializer(WebhookEndpointSerializer):
    """The endpoint with its secret: only the answers of its creation and of rotate-secret/
    carry it (afterwards only `secret_hint`, its last characters)."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        extra_kwargs = {
            **WebhookEndpointSerializer.Meta.extra_kwargs,
            "secret": {"help_text": "Key of the X-Helpdesk-Signature HMAC. Shown only now: keep it."},
        }


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=services.URL_MAX, help_text="A public https address.")
    description = serializers.CharField(
        max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True, default=""
    )
    events = serializers.ListField(child=serializers.CharField(max_length=40), allow_empty=False)


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=services.URL_MAX, required=False)
    description = serializers.CharField(max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True)
    events = serializers.ListField(child=serializers.CharField(max_length=40), required=False, allow_empty=False)
    enabled = serializers.BooleanField(required=False, help_text="Turning it on again forgets its failures.")


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(source="event.public_id")
    event_type = serializers.CharField(source="event.type")
    request_body = serializers.CharField(source="event.body", help_text="The JSON posted (empty before the first try).")

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "state",
            "attempts",
            "status_code",
            "response_ms",
            "response_excerpt",
            "error",
            "request_body",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "finished_at",
        ]


class DeliveryPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class WebhookEndpointViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """Endpoints that receive the organization's events (admins only). Each delivery is a POST
    of `{"id", "type", "created_at", "data"}` signed with the endpoint's secret
    (`X-Helpdesk-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`); see the README."""

    serializer_class = WebhookEndpointSerializer
    pagination_class = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self.membership.is_admin:
            raise exceptions.PermissionDenied(_("Only admins can manage webhooks."))

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return selectors.endpoint_list(organization=organization)

    def _endpoint(self, pk: Any) -> WebhookEndpoint:
        return selectors.endpoint_get(organization=self.organization, endpoint_id=pk)

    @extend_schema(responses={200: WebhookEndpointSerializer, **ERRORS})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(WebhookEndpointSerializer(self._endpoint(pk)).data)

    @extend_schema(request=WebhookEndpointInputSerializer, responses={201: WebhookEndpointSecretSerializer, **ERRORS})
    def create(self, request: Request) -> Response:
        payload = WebhookEndpointInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(
            organization=self.organization, acting_user=request.user, **payload.validated_data
        )
        return Response(WebhookEndpointSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookEndpointUpdateSerializer, responses={200: WebhookEndpointSerializer, **ERRORS})
    def partial_update(self, request: Request, pk: str) -> Response:
        endpoint = self._endpoint(pk)
        payload = WebhookEndpointUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.endpoint_update(organization=self.organization, endpoint=endpoint, **payload.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request: Request, pk: str) -> Response:
        services.endpoint_delete(organization=self.organization, endpoint=self._endpoint(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: WebhookEndpointSecretSerializer, **ERRORS})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """A new secret, used from the next delivery on."""
        endpoint = services.endpoint_secret_rotate(organization=self.organization, endpoint=self._endpoint(pk))
        return Response(WebhookEndpointSecretSerializer(endpoint).data)

    @extend_schema(responses={200: DeliverySerializer(many=True), **ERRORS})
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str) -> Response:
        """The endpoint's delivery log, newest first (paginated)."""
        rows = selectors.delivery_list(organization=self.organization, endpoint=self._endpoint(pk))
        paginator = DeliveryPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={201: DeliverySerializer, **ERRORS})
    @action(detail=True, methods=["post"], url_path="deliveries/<id:delivery_id>/send-again")
    def send_again(self, request: Request, pk: str, delivery_id: int) -> Response:
        """The same event (same id and body) to this endpoint once more, as a new delivery."""
        endpoint = self._endpoint(pk)
        delivery = selectors.delivery_get(organization=self.organization, endpoint=endpoint, delivery_id=delivery_id)
        again = services.delivery_send_again(organization=self.organization, delivery=delivery)
        fresh = selectors.delivery_get(organization=self.organization, endpoint=endpoint, delivery_id=again.pk)
        return Response(DeliverySerializer(fresh).data, status=status.HTTP_201_CREATED)
