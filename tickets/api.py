"""REST API of the tickets app: list (cursor-paginated, filtered), retrieve and PATCH of
tickets, a ticket's messages (its part of the conversation, in the shape of a conversation's
messages), and converting a conversation by hand."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import OrganizationAPIView, OrganizationViewSet
from helpdesk.converters import parse_id
from helpdesk.drf import CursorPagination, ErrorSerializer, IdField
from helpdesk.models import Membership, Organization
from labels import selectors as label_selectors
from labels.api import LabelBriefSerializer, label_brief
from messenger.api.notes import NOTE_ERRORS, NoteCreateSerializer, NotePagination, NoteSerializer
from messenger.api.pagination import MessageCursorPagination
from messenger.api.serializers import MessageSerializer
from messenger.selectors import transcript as transcript_selectors
from messenger.services import notes
from sla.api import SlaStateSerializer, sla_state_data
from sla.state import SlaStatus
from tickets import selectors, services
from tickets.models import SUBJECT_MAX_LENGTH, Ticket, TicketPriority, TicketState


def _user_ref(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "display_name": user.get_full_name() or user.username}


class TicketUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()


class TicketRefSerializer(serializers.Serializer):
    """A department or channel the ticket was filed under (either may have been deleted since)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    deleted = serializers.SerializerMethodField()

    def get_deleted(self, obj: Any) -> bool:
        return obj.deleted_at is not None


class TicketSerializer(serializers.ModelSerializer):
    department = TicketRefSerializer()
    channel = TicketRefSerializer()
    contact = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()
    labels = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField(
        help_text="The resolution target against the SLA policy; null when there is none, the ticket is "
        "resolved or closed, or the minute's job has not timed it yet."
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "subject",
            "state",
            "priority",
            "origin",
            "department",
            "channel",
            "conversation_id",
            "contact",
            "assignee",
            "created_by_id",
            "first_message_id",
            "last_message_id",
            "message_count",
            "follow_up_of",
            "created_at",
            "updated_at",
            "labels",
            "sla",
        ]
        extra_kwargs = {
            "follow_up_of": {"help_text": _("The ticket of the conversation's previous part.")},
            "last_message_id": {
                "help_text": "Fixed when the ticket is resolved or closed; while it is open or pending, every "
                "new message of the conversation belongs to it (see its messages)."
            },
        }

    @extend_schema_field(TicketRefSerializer())
    def get_contact(self, ticket: Ticket) -> dict[str, Any]:
        return {"id": ticket.contact_id, "name": str(ticket.contact)}

    @extend_schema_field(TicketUserSerializer(allow_null=True))
    def get_assignee(self, ticket: Ticket) -> dict[str, Any] | None:
        return _user_ref(ticket.assignee)

    @extend_schema_field(SlaStateSerializer(allow_null=True))
    def get_sla(self, ticket: Ticket) -> dict[str, Any] | None:
        return sla_state_data(ticket.resolution_sla())

    @extend_schema_field(LabelBriefSerializer(many=True))
    def get_labels(self, ticket: Ticket) -> list[dict[str, Any]]:
        # A list page has them already (selectors.with_labels: one query per page).
        organization = Organization(pk=ticket.organization_id)
        return [label_brief(label) for label in selectors.ticket_label_list(organization=organization, ticket=ticket)]


class TicketDetailSerializer(TicketSerializer):
    created_by = serializers.SerializerMethodField()
    allowed_states = serializers.ListField(
        child=serializers.CharField(), help_text=_("The states this ticket may move to next.")
    )

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "description", "created_by", "allowed_states"]

    @extend_schema_field(TicketUserSerializer(allow_null=True))
    def get_created_by(self, ticket: Ticket) -> dict[str, Any] | None:
        return _user_ref(ticket.created_by)


class TicketFilterSerializer(serializers.Serializer):
    department = IdField(required=False, min_value=1)
    state = serializers.ChoiceField(choices=TicketState.choices, required=False)
    assignee = serializers.RegexField(r"^(none|[1-9][0-9]*)$", required=False, help_text=_("A user id, or none."))
    channel = IdField(required=False, min_value=1)
    search = serializers.CharField(required=False, allow_blank=True, max_length=200)
    sla = serializers.ChoiceField(
        choices=[status.value for status in SlaStatus],
        required=False,
        help_text=_("Active tickets whose resolution target is on_track, at_risk or breached now."),
    )
    label = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField(max_length=200),
        required=False,
        help_text=_("Label ids; repeated or comma-separated: tickets with every one of them."),
    )

    def validate_label(self, value: list[str]) -> tuple[int, ...]:
        ids = {parse_id(part) for item in value for part in item.split(",") if part.strip()}
        if any(label_id < 1 for label_id in ids):
            raise serializers.ValidationError(_("Label ids, such as 3 or 3,7."))
        return tuple(sorted(ids))

    def validate_assignee(self, value: str) -> str:
        if value != "none" and parse_id(value) < 0:  # more digits than a 64-bit id holds
            raise serializers.ValidationError(_("A user id, or none."))
        return value

    def filters(self) -> selectors.TicketFilters:
        data = self.validated_data
        assignee = data.get("assignee")
        return selectors.TicketFilters(
            department_id=data.get("department"),
            state=data.get("state"),
            assignee_id=parse_id(assignee) if assignee and assignee != "none" else None,
            unassigned=assignee == "none",
            channel_id=data.get("channel"),
            search=data.get("search", ""),
            label_ids=data.get("label", ()),
            sla=SlaStatus(data["sla"]) if data.get("sla") else None,
        )


class TicketUpdateSerializer(serializers.Serializer):
    subject = serializers.CharField(required=False, max_length=SUBJECT_MAX_LENGTH)
    state = serializers.ChoiceField(choices=TicketState.choices, required=False)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, required=False)
    assignee = IdField(required=False, allow_null=True, min_value=1, help_text=_("A user id."))


class TicketReplySerializer(serializers.Serializer):
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The reply (Messenger's limit applies: 400 `message_too_long`).",
    )
    kept_files = serializers.ListField(
        child=serializers.CharField(max_length=2000),
        required=False,
        max_length=10,
        help_text="Tokens of kept files (a rendered canned response's attachments), each sent as its own message "
        "before the text.",
    )


class TicketLabelRefSerializer(serializers.Serializer):
    label = IdField(help_text=_("The id of one of the organization's labels (GET /api/v1/labels/)."))  # type: ignore[assignment]


class TicketViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """Tickets of the caller's departments (all of the organization's for admins)."""

    serializer_class = TicketSerializer
    pagination_class = CursorPagination
    admin_only_writes = False

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        query = TicketFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        tickets = selectors.ticket_list(organization=organization, membership=membership, filters=query.filters())
        return tickets.defer("description")

    @extend_schema(
        parameters=[
            OpenApiParameter("department", int),
            OpenApiParameter("state", str, enum=TicketState.values),
            OpenApiParameter("assignee", str, description="A user id, or `none` for unassigned tickets."),
            OpenApiParameter("channel", int),
            OpenApiParameter("search", str, description="Searches subject, description and contact name."),
            OpenApiParameter(
                "label",
                int,
                many=True,
                explode=True,
                description="Only tickets with this label; repeated (`label=3&label=7`) or comma-separated: with "
                "every one of them. A label of another organization matches nothing.",
            ),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        tickets = list(page) if page is not None else list(self.get_queryset())
        selectors.with_labels(tickets)
        data = self.get_serializer(tickets, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(
        summary="Put a label on the ticket",
        description="Any member who sees the ticket may label it; a label it has already changes nothing. "
        "404 for a label of another organization.",
        request=TicketLabelRefSerializer,
        responses={200: TicketDetailSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    @action(detail=True, methods=["post"], url_path="labels")
    def labels(self, request: Request, pk: str) -> Response:
        ticket = selectors.ticket_get(organization=self.organization, membership=self.membership, ticket_id=pk)
        payload = TicketLabelRefSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        label = label_selectors.label_get(organization=self.organization, label_id=payload.validated_data["label"])
        services.tickets_label_add(
            organization=self.organization, acting_user=request.user, tickets=[ticket], label=label
        )
        ticket = selectors.ticket_get(organization=self.organization, membership=self.membership, ticket_id=pk)
        return Response(TicketDetailSerializer(ticket).data)

    @extend_schema(
        summary="Take a label off the ticket",
        description="204 whether or not it had the label; 404 for a label of another organization.",
        request=None,
        responses={204: None, 404: ErrorSerializer},
    )
    @action(detail=True, methods=["delete"], url_path="labels/<id:label_id>")
    def label_remove(self, request: Request, pk: str, label_id: int) -> Response:
        ticket = selectors.ticket_get(organization=self.organization, membership=self.membership, ticket_id=pk)
        label = label_selectors.label_get(organization=self.organization, label_id=label_id)
        services.tickets_label_remove(
            organization=self.organization, acting_user=request.user, tickets=[ticket], label=label
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: TicketDetailSerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, pk: str) -> Response:
        ticket = selectors.ticket_get(organization=self.organization, membership=self.membership, ticket_id=pk)
        return Response(TicketDetailSerializer(ticket).data)

    @extend_schema(
        request=TicketUpdateSerializer,
        responses={200: TicketDetailSerializer, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        payload = TicketUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changes = dict(payload.validated_data)
        if "assignee" in changes:
            changes["assignee_id"] = changes.pop("assignee")
        services.ticket_update(
            organization=self.organization,
            acting_user=request.user,
            membership=self.membership,
            ticket_id=pk,
            **changes,
        )
        ticket = selectors.ticket_get(organization=self.organization, membership=self.membership, ticket_id=pk)
        return Response(TicketDetailSerializer(ticket).data)

    @extend_schema(
        methods=["GET"],
        summary="The ticket's messages (its part of the conversation), newest first",
        responses={200: MessageSerializer(many=True), 404: ErrorSerializer},
    )
    @extend_schema(
        methods=["POST"],
        summary="Reply from the ticket: a Messenger reply to its conversation, queued and sent in the background",
        description="Under the conversation's rules (reply window, blocked contact, disabled channel: 409 with "
        "their codes). A resolved or closed ticket that is still the conversation's latest takes the reply "
        "into its part, as on the ticket page.",
        request=TicketReplySerializer,
        responses={202: MessageSerializer, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=MessageCursorPagination)
    def messages(self, request: Request, pk: str) -> Response:
        if request.method == "POST":
            payload = TicketReplySerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            queued = services.ticket_reply_send(
                organization=self.organization,
                acting_user=request.user,
                membership=self.membership,
                ticket_id=pk,
                text=payload.validated_data.get("text", ""),
                kept_files=payload.validated_data.get("kept_files", []),
            )
            return Response(MessageSerializer(queued[0]).data, status=status.HTTP_202_ACCEPTED)
        messages = selectors.ticket_message_list(
            organization=self.organization, membership=self.membership, ticket_id=pk
        ).select_related("author")
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    @extend_schema(
        methods=["GET"],
        summary="The private notes of the ticket's conversation, oldest first",
        responses={200: NoteSerializer(many=True), 404: ErrorSerializer},
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a private note from the ticket",
        description="A note of the ticket's conversation (as `POST /api/v1/conversations/{id}/notes/`): never "
        "sent, its @mentions told.",
        request=NoteCreateSerializer,
        responses={201: NoteSerializer, **NOTE_ERRORS},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=NotePagination)
    def notes(self, request: Request, pk: str) -> Response:
        ticket = selectors.ticket_get(organization=self.organization, membership=self.membership, ticket_id=pk)
        conversation = ticket.conversation
        if request.method == "POST":
            payload = NoteCreateSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            note = notes.note_add(
                organization=self.organization,
                acting_user=request.user,
                membership=self.membership,
                conversation=conversation,
                body=payload.validated_data["body"],
            )
            rows = transcript_selectors.note_list_with_mentions(
                organization=self.organization, conversation=conversation
            )
            return Response(
                NoteSerializer(rows.select_related("author").get(pk=note.pk)).data, status=status.HTTP_201_CREATED
            )
        # The notes of the ticket's part of the thread, as its page shows them.
        rows = transcript_selectors.part_note_list(
            organization=self.organization, conversation=conversation, part=selectors.ticket_part(ticket=ticket)
        ).select_related("author")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(NoteSerializer(page, many=True).data)


class ConversationConvertView(OrganizationAPIView):
    """The conversation's part not yet in a ticket becomes a ticket (by hand). While one of
    its tickets is open: 409 `ticket_already_open`, with that ticket's id in
    `error.details.ticket_id`."""

    admin_only_writes = False

    @extend_schema(
        request=None,
        responses={201: TicketDetailSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        ticket = services.ticket_create_from_conversation(
            organization=self.organization,
            acting_user=request.user,
            membership=self.membership,
            conversation_id=conversation_id,
        )
        ticket = selectors.ticket_get(organization=self.organization, membership=self.membership, ticket_id=ticket.pk)
        return Response(TicketDetailSerializer(ticket).data, status=status.HTTP_201_CREATED)
