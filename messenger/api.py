"""REST API of the inbox: conversations, their messages, replies and actions.

Agents see (and act on) the conversations of their channels only; anything else is 404.
Every route lets agents write (``admin_only_writes = False``): the checks that matter
(visibility, reply window, channel state) are the services'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from django.urls import reverse
from django.utils.functional import lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.pagination import BasePagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from channels.icons import icon_api_url
from helpdesk.api import OrganizationViewSet
from helpdesk.converters import parse_int
from helpdesk.drf import CursorPagination, ErrorSerializer, IdField, JSONParser
from helpdesk.models import Membership
from messenger import selectors
from messenger.models import Conversation, ConversationState, Message
from messenger.reply_window import WindowState, reply_window
from messenger.services import conversations as conversation_services
from messenger.services import sending
from messenger.views.attachments import attachment_response

# --- Serializers ---------------------------------------------------------------------------


class ReplyWindowSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=[s.value for s in WindowState])
    # DRF's metaclass moves declared fields out of the class; the stubs see Field.label overridden.
    label = serializers.CharField()  # type: ignore[assignment]
    closes_at = serializers.DateTimeField(allow_null=True)
    messaging_type = serializers.CharField(help_text="RESPONSE or MESSAGE_TAG; empty when closed.")
    tag = serializers.CharField(help_text="HUMAN_AGENT inside the 7-day human agent window, else empty.")


def _window_data(conversation: Conversation) -> dict[str, Any]:
    window = reply_window(conversation.last_inbound_at)
    return {
        "state": window.state.value,
        "label": window.label,
        "closes_at": window.closes_at,
        "messaging_type": window.messaging_type if window.is_open else "",
        "tag": window.tag,
    }


class ContactBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    psid = serializers.CharField(help_text="The customer's page-scoped id.")
    display_name = serializers.CharField()
    avatar_url = serializers.CharField()
    is_blocked = serializers.BooleanField()
    is_guest = serializers.BooleanField()


class ChannelBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    icon_url = serializers.SerializerMethodField()
    is_enabled = serializers.BooleanField()
    is_deleted = serializers.BooleanField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_icon_url(self, channel: Any) -> str:
        return icon_api_url(channel)


class AssigneeSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(source="pk")
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        return user.get_full_name() or user.get_username()


def _contact_data(contact: Any) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "psid": contact.psid,
        "display_name": contact.display_name,
        "avatar_url": contact.avatar_url,
        "is_blocked": contact.is_blocked,
        "is_guest": contact.is_guest,
    }


def _channel_data(channel: Any) -> dict[str, Any]:
    return {
        "id": channel.pk,
        "name": channel.name,
        "icon_url": icon_api_url(channel),
        "is_enabled": channel.is_enabled,
        "is_deleted": channel.deleted_at is not None,
    }


def _user_data(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"user_id": user.pk, "name": user.get_full_name() or user.get_username()}


class ConversationSerializer(serializers.ModelSerializer):
    """The nested parts are built by plain functions: the list is the inbox's hot path, and
    DRF's per-field machinery for four nested serializers cost more than the query."""

    channel = serializers.SerializerMethodField()
    contact = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()
    reply_window = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "id",
            "channel",
            "department_id",
            "page_id",
            "contact",
            "state",
            "assignee",
            "unread_count",
            "last_inbound_at",
            "last_message_at",
            "last_message_preview",
            "reply_window",
            "created_at",
        ]

    @extend_schema_field(ChannelBriefSerializer)
    def get_channel(self, conversation: Conversation) -> dict[str, Any]:
        return _channel_data(conversation.channel)

    @extend_schema_field(ContactBriefSerializer)
    def get_contact(self, conversation: Conversation) -> dict[str, Any]:
        return _contact_data(conversation.contact)

    @extend_schema_field(AssigneeSerializer(allow_null=True))
    def get_assignee(self, conversation: Conversation) -> dict[str, Any] | None:
        return _user_data(conversation.assignee)

    @extend_schema_field(ReplyWindowSerializer)
    def get_reply_window(self, conversation: Conversation) -> dict[str, Any]:
        return _window_data(conversation)


class RefusalSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ConversationDetailSerializer(ConversationSerializer):
    reply_refusal = serializers.SerializerMethodField(
        help_text="Why a reply would be refused right now (same codes as the 409 errors), or null."
    )

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "reply_refusal"]

    @extend_schema_field(RefusalSerializer(allow_null=True))
    def get_reply_refusal(self, conversation: Conversation) -> dict[str, str] | None:
        refusal = sending.reply_refusal(conversation=conversation)
        return {"code": refusal.code, "message": str(refusal.message)} if refusal else None


class AttachmentSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="image, video, audio, file, location, fallback, template, sticker…")
    url = serializers.CharField(required=False, help_text="Facebook's original URL (it expires).")
    title = serializers.CharField(required=False)
    stored_url = serializers.CharField(
        allow_null=True,
        help_text="Our stored copy (API token required): a customer's file once downloaded, or the file an "
        "agent sent; null until then or when it could not be kept.",
    )
    size = serializers.IntegerField(required=False, help_text="Bytes of the stored copy.")
    content_type = serializers.CharField(required=False)
    download_error = serializers.CharField(required=False, help_text="Why the file could not be kept.")
    download_error_code = serializers.CharField(required=False, help_text="too_large, not_found, refused, …")


# Where we keep the file and Facebook's id of its upload are ours, not the API's.
_INTERNAL_ATTACHMENT_KEYS = frozenset({"stored_name", "attachment_id"})


def attachments_representation(message: Message, request: Request | None) -> list[dict[str, Any]]:
    """The attachments as stored, with the stored copy's API URL instead of its storage name."""
    shown = []
    for index, attachment in enumerate(message.attachments if isinstance(message.attachments, list) else []):
        if not isinstance(attachment, dict):
            continue
        entry = {key: value for key, value in attachment.items() if key not in _INTERNAL_ATTACHMENT_KEYS}
        entry["stored_url"] = None
        if attachment.get("stored_name"):
            path = reverse("message-attachment", kwargs={"pk": message.pk, "index": index})
            entry["stored_url"] = request.build_absolute_uri(path) if request is not None else path
        shown.append(entry)
    return shown


class MessageSerializer(serializers.ModelSerializer):
    author = AssigneeSerializer(allow_null=True)
    attachments = serializers.SerializerMethodField()
    failure_reason = serializers.SerializerMethodField(help_text="A readable reason when status is failed.")

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation_id",
            "mid",
            "direction",
            "source",
            "kind",
            "status",
            "text",
            "attachments",
            "sticker_id",
            "quick_reply_payload",
            "reply_to_mid",
            "postback_title",
            "postback_payload",
            "reactions",
            "edit_count",
            "edited_at",
            "sent_at",
            "author",
            "idempotency_key",
            "messaging_type",
            "tag",
            "attempts",
            "error_code",
            "error_message",
            "failure_reason",
            "delivered_at",
            "read_at",
        ]

    @extend_schema_field(AttachmentSerializer(many=True))
    def get_attachments(self, message: Message) -> list[dict[str, Any]]:
        return attachments_representation(message, self.context.get("request"))

    @extend_schema_field(OpenApiTypes.STR)
    def get_failure_reason(self, message: Message) -> str:
        return sending.failure_reason(message) if message.status == "failed" else ""


def _text_help() -> str:
    return (
        f"At most {sending.MAX_TEXT_LENGTH:,} characters (Unicode code points). With a file it is sent as a "
        "second message, after the file."
    )


class MessageCreateSerializer(serializers.Serializer):
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        # Read when the schema is built: the service's limit is the one rule.
        help_text=lazy(_text_help, str)(),
    )
    file = serializers.FileField(
        required=False,
        help_text="An image (JPEG, PNG, GIF, judged by its bytes; at most 8 MB) or any other file (at most "
        "25 MB, not empty); multipart/form-data only. With `text` too, the text follows as a second message.",
    )


class AssignSerializer(serializers.Serializer):
    assignee_id = IdField(
        allow_null=True, help_text="A member id (see /api/v1/members/) of an agent of the channel, or null."
    )


class ForwardSerializer(serializers.Serializer):
    to_membership_id = IdField(required=False, help_text="Transfer to this agent of the channel…")
    to_channel_id = IdField(required=False, help_text="…or file under this other channel.")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


# --- Pagination ----------------------------------------------------------------------------


class ConversationCursorPagination(BasePagination):
    """Keyset pages by last activity (newest first); the cost is the same at any depth."""

    page_size = 25
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate_queryset(
        self, queryset: QuerySet[Any, Any] | Sequence[Any], request: Request, view: Any = None
    ) -> list[Any]:
        if not isinstance(queryset, QuerySet):
            raise TypeError("ConversationCursorPagination pages a queryset of conversations, not a list.")
        self.request = request
        # Junk is ignored, as by the other filters of the list (conversation_page clamps the rest).
        page_size = parse_int(request.query_params.get(self.page_size_query_param)) or self.page_size
        page = selectors.conversation_page(
            queryset, cursor=request.query_params.get(self.cursor_query_param), page_size=page_size
        )
        self.next_cursor = page.next_cursor
        return page.conversations

    def get_next_link(self) -> str | None:
        if not self.next_cursor:
            return None
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, self.next_cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "previous": None, "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The `next` cursor of the previous page.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": "Results per page (1–100, default 25).",
                "schema": {"type": "integer"},
            },
        ]


class MessageCursorPagination(CursorPagination):
    ordering = ("-sent_at", "-id")
    page_size = 50


# --- Views -----------------------------------------------------------------------------------

FILTER_PARAMETERS = [
    OpenApiParameter("channel", int, description="Only this channel."),
    OpenApiParameter("state", str, enum=ConversationState.values, description="open or closed."),
    OpenApiParameter("assignee", str, enum=["me", "none"], description="Assigned to me, or unassigned."),
    OpenApiParameter("q", str, description="Search contact names and message text."),
]
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input (invalid, message_too_long…)."),
    404: OpenApiResponse(ErrorSerializer, description="Not one of your conversations."),
    409: OpenApiResponse(
        ErrorSerializer,
        description="reply_window_closed, channel_disabled, channel_deleted, page_reauthorization_required, "
        "contact_blocked or invalid_transition.",
    ),
}


class ConversationViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """Conversations of the caller's channels (admins: all), newest activity first."""

    serializer_class = ConversationSerializer
    pagination_class = ConversationCursorPagination
    admin_only_writes = False

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        filters = selectors.ConversationFilters.from_params(self.request.query_params)
        return selectors.conversation_list(organization=organization, membership=membership, filters=filters)

    def _conversation(self, pk: Any) -> Conversation:
        return selectors.conversation_get(
            organization=self.organization, membership=self.membership, conversation_id=pk
        )

    def _detail(self, conversation: Conversation, *, status_code: int = status.HTTP_200_OK) -> Response:
        conversation = self._conversation(conversation.pk)
        return Response(ConversationDetailSerializer(conversation).data, status=status_code)

    @extend_schema(parameters=FILTER_PARAMETERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

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
            queued = sending.reply_send(
                organization=self.organization,
                acting_user=request.user,
                conversation=conversation,
                text=payload.validated_data.get("text", ""),
                upload=payload.validated_data.get("file"),
            )
            return Response(MessageSerializer(queued[0]).data, status=status.HTTP_202_ACCEPTED)
        messages = selectors.message_list(organization=self.organization, conversation=conversation).select_related(
            "author"
        )
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    @extend_schema(request=AssignSerializer, responses={200: ConversationDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        conversation = self._conversation(pk)
        payload = AssignSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        conversation_services.conversation_assign(
            organization=self.organization,
            acting_user=request.user,
            conversation=conversation,
            assignee_membership_id=payload.validated_data["assignee_id"],
        )
        return self._detail(conversation)

    @extend_schema(request=ForwardSerializer, responses={200: ConversationDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def forward(self, request: Request, pk: str) -> Response:
        conversation = self._conversation(pk)
        payload = ForwardSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        conversation_services.conversation_forward(
            organization=self.organization,
            acting_user=request.user,
            conversation=conversation,
            to_membership_id=payload.validated_data.get("to_membership_id"),
            to_channel_id=payload.validated_data.get("to_channel_id"),
            note=payload.validated_data["note"],
        )
        # After moving to another channel the caller may no longer see it: answer what it became.
        conversation.refresh_from_db()
        return Response(ConversationDetailSerializer(conversation).data)

    def _simple_action(self, pk: str, service: Any) -> Response:
        conversation = self._conversation(pk)
        service(organization=self.organization, acting_user=self.request.user, conversation=conversation)
        return self._detail(conversation)

    @extend_schema(request=None, responses={200: ConversationDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        return self._simple_action(pk, conversation_services.conversation_close)

    @extend_schema(request=None, responses={200: ConversationDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str) -> Response:
        return self._simple_action(pk, conversation_services.conversation_reopen)

    @extend_schema(request=None, responses={200: ConversationDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def block(self, request: Request, pk: str) -> Response:
        return self._simple_action(pk, conversation_services.contact_block)

    @extend_schema(request=None, responses={200: ConversationDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def unblock(self, request: Request, pk: str) -> Response:
        return self._simple_action(pk, conversation_services.contact_unblock)


class MessageViewSet(OrganizationViewSet):
    """Actions on one message of the caller's conversations."""

    serializer_class = MessageSerializer
    admin_only_writes = False

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return selectors.message_visible_list(organization=organization, membership=membership)

    @extend_schema(
        request=None,
        summary="Send a failed message again",
        responses={202: MessageSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        message = selectors.message_get(organization=self.organization, membership=self.membership, message_id=pk)
        message = sending.message_retry(organization=self.organization, acting_user=request.user, message=message)
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Download the stored copy of an attachment (a customer's file, or one an agent sent)",
        description="`index` is the attachment's position in the message's `attachments`. The type is "
        "read from the file's bytes: raster images (PNG, JPEG, GIF, WebP) are served inline, anything "
        "else as a download (HTML, SVG, XML and scripts as `application/octet-stream`).",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"], url_path="attachments/<int:index>", url_name="attachment")
    def attachment(self, request: Request, pk: str, index: int) -> FileResponse:
        message = selectors.message_get(organization=self.organization, membership=self.membership, message_id=pk)
        return attachment_response(message, index)
