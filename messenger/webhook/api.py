"""GET /api/v1/webhook-events/ (admins): the raw webhook event log of the organization."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers
from rest_framework.request import Request

from helpdesk.api import OrganizationViewSet
from helpdesk.drf import CursorPagination
from helpdesk.models import Membership
from messenger.models import WebhookEvent
from messenger.webhook import selectors


class WebhookEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEvent
        fields = ["id", "page_id", "kind", "mid", "outcome", "reason", "received_at", "processed_at", "payload"]


class WebhookEventPagination(CursorPagination):
    ordering = ("-received_at", "-id")


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("outcome", str, description="pending, stored, duplicate, ignored or failed"),
            OpenApiParameter("kind", str, description="message, echo, postback, delivery, read, reaction…"),
            OpenApiParameter("q", str, description="A message id, or text of a message, edit or postback"),
        ]
    )
)
class WebhookEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    serializer_class = WebhookEventSerializer
    pagination_class = WebhookEventPagination

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self.membership.is_admin:
            raise exceptions.PermissionDenied(_("Only admins can read the webhook event log."))

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        params = self.request.query_params
        return selectors.webhook_event_list(
            organization=organization,
            outcome=params.get("outcome", ""),
            kind=params.get("kind", ""),
            search=params.get("q", ""),
        )
