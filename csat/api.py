"""REST API of customer satisfaction: the ratings asked for in a conversation or a ticket, as
the conversation page and the ticket page show them (read only: customers answer in Messenger).

    GET /api/v1/conversations/{id}/ratings/   the conversation's surveys, newest first
    GET /api/v1/tickets/{id}/ratings/         the ticket's

The conversation or ticket is found through the visibility rule: 404 otherwise.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from csat import selectors
from csat.models import Survey, SurveyOccasion, SurveyStatus
from helpdesk.api import OrganizationAPIView
from helpdesk.drf import CursorPagination, ErrorSerializer
from messenger.selectors import conversations as conversation_selectors
from tickets import selectors as ticket_selectors


class SurveyAgentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class SurveySerializer(serializers.ModelSerializer):
    agent = SurveyAgentSerializer(allow_null=True, help_text="The agent rated; null when the account is gone.")
    occasion = serializers.ChoiceField(choices=SurveyOccasion.choices)
    status = serializers.ChoiceField(choices=SurveyStatus.choices)

    class Meta:
        model = Survey
        fields = [
            "id",
            "conversation_id",
            "ticket_id",
            "occasion",
            "status",
            "asked_at",
            "score",
            "answered_at",
            "comment",
            "agent",
        ]


class SurveyPagination(CursorPagination):
    ordering = ("-asked_at", "-id")


class _Ratings(OrganizationAPIView):
    admin_only_writes = False

    def _page(self, surveys: Any) -> Response:
        pagination = SurveyPagination()
        page: list[Survey] | None = pagination.paginate_queryset(surveys, self.request, view=self)
        return pagination.get_paginated_response(SurveySerializer(page, many=True).data)


class ConversationRatingsView(_Ratings):
    @extend_schema(
        summary="The ratings asked for in a conversation, newest first",
        responses={200: SurveySerializer(many=True), 404: ErrorSerializer},
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = conversation_selectors.conversation_get_bare(
            organization=self.organization, membership=self.membership, conversation_id=conversation_id
        )
        return self._page(selectors.conversation_surveys(organization=self.organization, conversation=conversation))


class TicketRatingsView(_Ratings):
    @extend_schema(
        summary="The ratings asked for in a ticket, newest first",
        responses={200: SurveySerializer(many=True), 404: ErrorSerializer},
    )
    def get(self, request: Request, ticket_id: int) -> Response:
        ticket = ticket_selectors.ticket_get(
            organization=self.organization, membership=self.membership, ticket_id=ticket_id
        )
        return self._page(selectors.ticket_surveys(organization=self.organization, ticket=ticket))
