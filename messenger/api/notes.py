"""Private notes as a sub-resource of a conversation: ``/api/v1/conversations/<id>/notes/``.
The conversation is found through the visibility rule (404 otherwise, as every other route of
a conversation); notes are written by ``messenger.services.notes``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import OrganizationViewSet
from helpdesk.drf import CursorPagination, ErrorSerializer
from helpdesk.models import Membership
from messenger.api.serializers import AssigneeSerializer
from messenger.models import Conversation, Note, NoteMention
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import transcript as transcript_selectors
from messenger.services import notes


class NoteMentionSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="user_id", help_text="The member's user id (as `author.user_id`).")
    username = serializers.CharField(source="user.username")
    name = serializers.SerializerMethodField()

    def get_name(self, mention: NoteMention) -> str:
        return mention.user.get_full_name() or mention.user.get_username()


class NoteSerializer(serializers.ModelSerializer):
    author = AssigneeSerializer(allow_null=True, help_text="Null when the author's account is gone.")
    author_name = serializers.CharField(help_text="The author's name when they wrote the note.")
    mentions = NoteMentionSerializer(many=True, help_text="The members named with @username in the body.")

    class Meta:
        model = Note
        fields = ["id", "conversation_id", "author", "author_name", "body", "created_at", "edited_at", "mentions"]


class NoteCreateSerializer(serializers.Serializer):
    body = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"1–{notes.NOTE_MAX_LENGTH:,} characters once trimmed. `@username` mentions a member who may "
        "see the conversation (they are notified in the app and by email); naming anyone else refuses the "
        "whole note with 400 `mention_not_allowed`.",
    )


class NotePagination(CursorPagination):
    ordering = ("created_at", "id")
    page_size = 50


NOTE_ERRORS = {
    400: OpenApiResponse(
        ErrorSerializer,
        description="note_empty, note_too_long, or mention_not_allowed (`details.usernames`: who cannot be "
        "mentioned); nothing is stored.",
    ),
    404: OpenApiResponse(ErrorSerializer, description="Not one of your conversations."),
}


class ConversationNoteViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """The team's private notes in a conversation: never sent to the customer, seen by the
    members who see the conversation (agents of its channel, admins)."""

    serializer_class = NoteSerializer
    pagination_class = NotePagination
    admin_only_writes = False

    def _conversation(self) -> Conversation:
        return conversation_selectors.conversation_get(
            organization=self.organization, membership=self.membership, conversation_id=self.kwargs["conversation_id"]
        )

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        conversation = self._conversation()
        return transcript_selectors.note_list_with_mentions(
            organization=organization, conversation=conversation
        ).select_related("author")

    @extend_schema(
        summary="The conversation's notes, oldest first",
        responses={200: NoteSerializer(many=True), 404: NOTE_ERRORS[404]},
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Add a private note",
        description="Allowed on closed conversations, outside the reply window and on disabled or deleted "
        "channels: a note is never sent.",
        request=NoteCreateSerializer,
        responses={201: NoteSerializer, **NOTE_ERRORS},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        conversation = self._conversation()
        payload = NoteCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        note = notes.note_add(
            organization=self.organization,
            acting_user=request.user,
            membership=self.membership,
            conversation=conversation,
            body=payload.validated_data["body"],
        )
        note = (
            transcript_selectors.note_list_with_mentions(organization=self.organization, conversation=conversation)
            .select_related("author")
            .get(pk=note.pk)
        )
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)
