"""The conversations of the inbox API: the list (filters, keyset pages), one conversation,
its messages and the reply, and the actions (assign, forward, close, reopen, block, unblock)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import OrganizationViewSet
from helpdesk.drf import ErrorSerializer, JSONParser
from helpdesk.exceptions import InvalidInput
from helpdesk.models import Membership
from labels import selectors as label_selectors
from messenger.api.bulk import BulkResultSerializer, BulkSerializer
from messenger.api.errors import ERRORS
from messenger.api.pagination import ConversationCursorPagination, MessageCursorPagination
from messenger.api.serializers import (
    AssignSerializer,
    ConversationCountsSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    ForwardSerializer,
    LabelRefSerializer,
    MessageCreateSerializer,
    MessageSerializer,
)
from messenger.conversation_order import ConversationSort, ConversationView
from messenger.models import Conversation, ConversationState
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import filters as filter_selectors
from messenger.selectors import messages as message_selectors
from messenger.services.conversations.assignment import (
    Assignment,
    conversation_assign,
    conversation_forward,
    over_capacity_message,
)
from messenger.services.conversations.blocking import contact_block, contact_unblock
from messenger.services.conversations.bulk import BulkAction, conversations_bulk
from messenger.services.conversations.labels import conversations_label_add, conversations_label_remove
from messenger.services.conversations.state import conversation_close, conversation_reopen
from messenger.services.sending import replies

FILTER_PARAMETERS = [
    OpenApiParameter("channel", int, description="Only this channel."),
    OpenApiParameter("state", str, enum=ConversationState.values, description="open or closed."),
    OpenApiParameter("assignee", str, enum=["me", "none"], description="Assigned to me, or unassigned."),
    OpenApiParameter("q", str, description="Search contact names and message text."),
    OpenApiParameter(
        "label",
        int,
        many=True,
        explode=True,
        description="Only conversations with this label; repeated (`label=3&label=7`) or comma-separated: "
        "with every one of them. A label of another organization matches nothing.",
    ),
    OpenApiParameter(
        "referral",
        str,
        enum=["any", "ad", "link", "plugin", "other"],
        description="Only conversations the customer entered through a referral: an ad, an m.me link, the chat "
        "plugin, another source, or `any` of them (messenger.referrals). Anything else: no filter.",
    ),
    OpenApiParameter("ref", str, description="Only conversations entered through an m.me link or ad with this `ref`."),
    OpenApiParameter(
        "view",
        str,
        enum=[v.value for v in ConversationView],
        description="mine: assigned to me; unassigned: the queue (open and assigned to no one); all (the default): "
        "every conversation you see (an agent: those of their channels). Unknown: 400 `invalid_view`.",
    ),
    OpenApiParameter(
        "sort",
        str,
        enum=[s.value for s in ConversationSort],
        description="newest (the default): newest activity first; waiting: the customer waiting longest first "
        "(`waiting_since` ascending, conversations nobody waits in last); window_closing: open reply windows "
        "by the time they next close (`reply_window.closes_at`), closed windows last. Ties by id; the `next` "
        "cursor keeps the sort. Unknown: 400 `invalid_sort`.",
    ),
]


class ConversationViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """Conversations of the caller's channels (admins: all), in a view and a sort (by default all
    of them, newest activity first)."""

    serializer_class = ConversationSerializer
    pagination_class = ConversationCursorPagination
    admin_only_writes = False
    # The list's sort, for its pagination (set by scoped_queryset).
    conversation_sort = ConversationSort.NEWEST

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        filters = filter_selectors.ConversationFilters.from_params(self.request.query_params, strict=True)
        # The pagination pages in the same sort.
        self.conversation_sort = filters.sort
        return conversation_selectors.conversation_list(
            organization=organization, membership=membership, filters=filters
        )

    def _conversation(self, pk: Any) -> Conversation:
        return conversation_selectors.conversation_get(
            organization=self.organization, membership=self.membership, conversation_id=pk
        )

    def _detail(self, conversation: Conversation, *, status_code: int = status.HTTP_200_OK) -> Response:
        conversation = self._conversation(conversation.pk)
        return Response(ConversationDetailSerializer(conversation).data, status=status_code)

    @extend_schema(
        parameters=FILTER_PARAMETERS,
        responses={
            200: ConversationSerializer(many=True),
            400: OpenApiResponse(ErrorSerializer, description="invalid_view or invalid_sort."),
        },
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="How many open conversations each view holds",
        description="For the caller: `mine` (assigned to them), `unassigned` (the queue), `all` (every open "
        "conversation they see; an agent: those of their channels). The list's filters do not apply.",
        parameters=[],
        responses={200: ConversationCountsSerializer},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def counts(self, request: Request) -> Response:
        counts = conversation_selectors.conversation_counts(organization=self.organization, membership=self.membership)
        return Response(ConversationCountsSerializer(counts).data)

    @extend_schema(responses={200: ConversationDetailSerializer, 404: ERRORS[404]})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ConversationDetailSerializer(self._conversation(pk)).data)

    @extend_schema(
        methods=["GET"],
        summary="The conversation's messages, newest first",
        responses={200: MessageSerializer(many=True), 404: ERRORS[404]},
    )
    @extend_schema(
        methods=["POST"],
        summary="Reply: the message is stored as queued and sent in the background",
        description="A text, a file, or both: Messenger carries a text or one file per message, so a text "
        "with a file is queued as two messages, the file and then the text; the answer is the first.",
        request={"application/json": MessageCreateSerializer, "multipart/form-data": MessageCreateSerializer},
        responses={202: MessageSerializer, **ERRORS},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        pagination_class=MessageCursorPagination,
        # A file comes as multipart (field `file`, as in the inbox's composer); text as JSON or a form.
        parser_classes=[JSONParser, MultiPartParser, FormParser],
    )
    def messages(self, request: Request, pk: str) -> Response:
        conversation = self._conversation(pk)
        if request.method == "POST":
            payload = MessageCreateSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            queued = replies.reply_send(
                organization=self.organization,
                acting_user=request.user,
                conversation=conversation,
                text=payload.validated_data.get("text", ""),
                upload=payload.validated_data.get("file"),
                kept_files=payload.validated_data.get("kept_files", []),
                seen_at=payload.validated_data.get("seen_at"),
            )
            return Response(MessageSerializer(queued[0]).data, status=status.HTTP_202_ACCEPTED)
        messages = message_selectors.message_list(
            organization=self.organization, conversation=conversation
        ).select_related("author")
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    @extend_schema(
        request=AssignSerializer,
        responses={200: ConversationDetailSerializer, **ERRORS},
        description="Assigning an agent beyond their capacity is made all the same; the answer then also "
        'carries `"warning": {"code": "over_capacity", "message", "load", "capacity"}`.',
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        conversation = self._conversation(pk)
        payload = AssignSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        assignment = conversation_assign(
            organization=self.organization,
            acting_user=request.user,
            conversation=conversation,
            assignee_membership_id=payload.validated_data["assignee_id"],
        )
        response = self._detail(conversation)
        _warn_over_capacity(response, assignment)
        return response

    @extend_schema(
        request=ForwardSerializer,
        responses={200: ConversationDetailSerializer, **ERRORS},
        description="Forwarding to an agent beyond their capacity is made all the same; the answer then also "
        'carries `"warning": {"code": "over_capacity", "message", "load", "capacity"}`.',
    )
    @action(detail=True, methods=["post"])
    def forward(self, request: Request, pk: str) -> Response:
        conversation = self._conversation(pk)
        payload = ForwardSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        assignment = conversation_forward(
            organization=self.organization,
            acting_user=request.user,
            conversation=conversation,
            to_membership_id=payload.validated_data.get("to_membership_id"),
            to_channel_id=payload.validated_data.get("to_channel_id"),
            note=payload.validated_data["note"],
        )
        # After moving to another channel the caller may no longer see it: answer what it became.
        conversation.refresh_from_db()
        response = Response(ConversationDetailSerializer(conversation).data)
        _warn_over_capacity(response, assignment)
        return response

    def _simple_action(self, pk: str, service: Any) -> Response:
        conversation = self._conversation(pk)
        service(organization=self.organization, acting_user=self.request.user, conversation=conversation)
        return self._detail(conversation)

    @extend_schema(
        summary="Put a label on the conversation",
        description="Any member who sees the conversation may label it (a deleted channel's too). A label it "
        "has already changes nothing. 404 for a label of another organization.",
        request=LabelRefSerializer,
        responses={200: ConversationDetailSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    @action(detail=True, methods=["post"], url_path="labels")
    def labels(self, request: Request, pk: str) -> Response:
        conversation = self._conversation(pk)
        payload = LabelRefSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        label = label_selectors.label_get(organization=self.organization, label_id=payload.validated_data["label"])
        conversations_label_add(
            organization=self.organization, acting_user=request.user, conversations=[conversation], label=label
        )
        return self._detail(conversation)

    @extend_schema(
        summary="Take a label off the conversation",
        description="204 whether or not it had the label; 404 for a label of another organization.",
        request=None,
        responses={204: None, 404: ERRORS[404]},
    )
    @action(detail=True, methods=["delete"], url_path="labels/<id:label_id>")
    def label_remove(self, request: Request, pk: str, label_id: int) -> Response:
        conversation = self._conversation(pk)
        label = label_selectors.label_get(organization=self.organization, label_id=label_id)
        conversations_label_remove(
            organization=self.organization, acting_user=request.user, conversations=[conversation], label=label
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: ConversationDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        return self._simple_action(pk, conversation_close)

    @extend_schema(request=None, responses={200: ConversationDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str) -> Response:
        return self._simple_action(pk, conversation_reopen)

    @extend_schema(request=None, responses={200: ConversationDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def block(self, request: Request, pk: str) -> Response:
        return self._simple_action(pk, contact_block)

    @extend_schema(request=None, responses={200: ConversationDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def unblock(self, request: Request, pk: str) -> Response:
        return self._simple_action(pk, contact_unblock)

    @extend_schema(
        summary="One action on many conversations",
        description='assign (`assignee`: a member id, "me", or null to unassign), label_add, label_remove '
        "(`label`), close or reopen, on up to 100 conversations in one transaction, with one system line per "
        "conversation changed. Those already as asked are listed in `unchanged`. An id you do not see: 404, "
        "nothing changed. What may not be done to one of them (a deleted channel's conversation reopened or "
        "given to someone; an assignee who may not hold a channel's conversations): 409 `bulk_refused`, "
        "nothing changed, `details.conversations` lists each (`id`, `code`, `reason`). An assignee beyond "
        "their capacity: done, and said in `warnings` (`over_capacity`).",
        request=BulkSerializer,
        responses={
            200: BulkResultSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="invalid_action, too_many_conversations or invalid (ids, assignee, label)."
            ),
            404: ERRORS[404],
            409: OpenApiResponse(ErrorSerializer, description="bulk_refused (nothing changed)."),
        },
    )
    @action(detail=False, methods=["post"], url_path="bulk", pagination_class=None)
    def bulk(self, request: Request) -> Response:
        payload = BulkSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        if payload.validated_data["action"] == BulkAction.ASSIGN and "assignee" not in payload.validated_data:
            raise InvalidInput(details={"assignee": ['A member id, "me", or null.']})
        result = conversations_bulk(
            organization=self.organization,
            acting_user=request.user,
            membership=self.membership,
            conversation_ids=payload.validated_data["ids"],
            action=payload.validated_data["action"],
            assignee_id=payload.validated_data.get("assignee"),
            label_id=payload.validated_data["label"],
        )
        return Response(BulkResultSerializer(result).data)


def _warn_over_capacity(response: Response, assignment: Assignment) -> None:
    """An assignment (or forward) made beyond the agent's capacity, all the same: the caller
    is told, in `warning`."""
    if assignment.over_capacity is not None:
        response.data["warning"] = {
            "code": "over_capacity",
            "message": over_capacity_message(assignment),
            "load": assignment.over_capacity.load,
            "capacity": assignment.over_capacity.capacity,
        }
