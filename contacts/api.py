"""REST API of the contacts: the list (searched), a contact with the person's other contacts
and links to their conversations and tickets (as far as the caller sees them), notes about
the contact, and merging two contacts of the same person (or unmerging one)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, pagination, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import selectors, services
from contacts.models import NOTE_MAX_LENGTH, ContactNote
from helpdesk.api import OrganizationAPIView, OrganizationViewSet
from helpdesk.drf import ErrorSerializer, IdField
from helpdesk.models import Membership
from messenger.models import Contact

ERRORS = {
    400: OpenApiResponse(
        ErrorSerializer,
        description="invalid_merge (a contact with itself), not_merged (unmerging a contact in no person), "
        "invalid_note (empty or over 5,000 characters).",
    ),
    403: OpenApiResponse(ErrorSerializer, description="not_note_author: only a note's author changes or deletes it."),
    404: OpenApiResponse(ErrorSerializer, description="Not a contact (or note) you may see."),
}


class ContactPagination(pagination.PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


class ContactSerializer(serializers.ModelSerializer):
    page_id = serializers.CharField(source="page.page_id", help_text="The Facebook Page's id.")
    page_name = serializers.CharField(source="page.name")

    class Meta:
        model = Contact
        fields = [
            "id",
            "psid",
            "display_name",
            "first_name",
            "last_name",
            "is_guest",
            "is_blocked",
            "page_id",
            "page_name",
            "created_at",
        ]


class LinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()


class ContactDetailSerializer(ContactSerializer):
    person_contacts = ContactSerializer(many=True, help_text="The same person's other contacts you see.")
    conversations = LinkSerializer(many=True, help_text="The person's conversations you see, newest first.")
    tickets = LinkSerializer(many=True, help_text="The person's tickets you see, newest first.")

    class Meta(ContactSerializer.Meta):
        fields = [*ContactSerializer.Meta.fields, "person_contacts", "conversations", "tickets"]


class MergeSerializer(serializers.Serializer):
    contact_id = IdField(help_text="The other contact (of another page, the same person).")


class ContactNoteSerializer(serializers.ModelSerializer):
    author_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = ContactNote
        fields = ["id", "contact_id", "author_id", "text", "created_at", "updated_at"]


class ContactNoteInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=NOTE_MAX_LENGTH)


class ContactViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """Contacts the caller sees (one of their conversations is visible to the caller)."""

    serializer_class = ContactSerializer
    pagination_class = ContactPagination
    admin_only_writes = False

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return selectors.contact_list(
            organization=organization, membership=membership, query=self.request.query_params.get("q", "")
        )

    def _detail(self, contact: Contact) -> Response:
        organization, membership = self.organization, self.membership
        person = selectors.person_contact_list(organization=organization, membership=membership, contact=contact)
        conversations = selectors.contact_conversation_list(
            organization=organization, membership=membership, contacts=person
        ).values_list("pk", flat=True)[:100]
        tickets = selectors.contact_ticket_list(
            organization=organization, membership=membership, contacts=person
        ).values_list("pk", flat=True)[:100]
        data = dict(ContactSerializer(contact).data)
        data["person_contacts"] = ContactSerializer(person[1:], many=True).data
        data["conversations"] = [
            {"id": pk, "url": reverse("conversation-detail", kwargs={"pk": pk})} for pk in conversations
        ]
        data["tickets"] = [{"id": pk, "url": reverse("ticket-detail", kwargs={"pk": pk})} for pk in tickets]
        return Response(data)

    def _contact(self, pk: Any) -> Contact:
        return selectors.contact_get(organization=self.organization, membership=self.membership, contact_id=pk)

    @extend_schema(
        parameters=[OpenApiParameter("q", str, description="A part of the name (any script) or of the customer id.")],
        responses={200: ContactSerializer(many=True)},
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: ContactDetailSerializer, 404: ERRORS[404]})
    def retrieve(self, request: Request, pk: str) -> Response:
        return self._detail(self._contact(pk))

    @extend_schema(
        request=MergeSerializer, responses={200: ContactDetailSerializer, 400: ERRORS[400], 404: ERRORS[404]}
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str) -> Response:
        """Merge with another contact of the same person (both must be contacts you see)."""
        # The contact first: one the caller does not see is 404 whatever the body.
        contact = self._contact(pk)
        payload = MergeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        other = self._contact(payload.validated_data["contact_id"])
        services.contacts_merge(
            organization=self.organization,
            membership=self.membership,
            acting_user=request.user,
            contact=contact,
            other=other,
        )
        return self._detail(contact)

    @extend_schema(request=None, responses={200: ContactDetailSerializer, 400: ERRORS[400], 404: ERRORS[404]})
    @action(detail=True, methods=["post"])
    def unmerge(self, request: Request, pk: str) -> Response:
        """Take the contact out of its person."""
        contact = self._contact(pk)
        services.contact_unmerge(
            organization=self.organization, membership=self.membership, acting_user=request.user, contact=contact
        )
        return self._detail(contact)


class ContactNoteListView(OrganizationAPIView):
    """Notes about a contact (whoever sees the contact reads them and may add one)."""

    admin_only_writes = False

    @extend_schema(responses={200: ContactNoteSerializer(many=True), 404: ERRORS[404]})
    def get(self, request: Request, contact_id: int) -> Response:
        contact = selectors.contact_get(
            organization=self.organization, membership=self.membership, contact_id=contact_id
        )
        notes = selectors.note_list(organization=self.organization, contact=contact)
        return Response(ContactNoteSerializer(notes, many=True).data)

    @extend_schema(
        request=ContactNoteInputSerializer, responses={201: ContactNoteSerializer, 400: ERRORS[400], 404: ERRORS[404]}
    )
    def post(self, request: Request, contact_id: int) -> Response:
        contact = selectors.contact_get(
            organization=self.organization, membership=self.membership, contact_id=contact_id
        )
        payload = ContactNoteInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        note = services.contact_note_create(
            organization=self.organization,
            acting_user=request.user,
            contact=contact,
            text=payload.validated_data["text"],
        )
        return Response(ContactNoteSerializer(note).data, status=status.HTTP_201_CREATED)


class ContactNoteDetailView(OrganizationAPIView):
    """One note: its author changes or deletes it."""

    admin_only_writes = False

    def _note(self, contact_id: int, note_id: int) -> ContactNote:
        contact = selectors.contact_get(
            organization=self.organization, membership=self.membership, contact_id=contact_id
        )
        return selectors.note_get(organization=self.organization, contact=contact, note_id=note_id)

    @extend_schema(request=ContactNoteInputSerializer, responses={200: ContactNoteSerializer, **ERRORS})
    def patch(self, request: Request, contact_id: int, note_id: int) -> Response:
        note = self._note(contact_id, note_id)
        payload = ContactNoteInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        note = services.contact_note_update(
            organization=self.organization, acting_user=request.user, note=note, text=payload.validated_data["text"]
        )
        return Response(ContactNoteSerializer(note).data)

    @extend_schema(responses={204: None, 403: ERRORS[403], 404: ERRORS[404]})
    def delete(self, request: Request, contact_id: int, note_id: int) -> Response:
        services.contact_note_delete(
            organization=self.organization, acting_user=request.user, note=self._note(contact_id, note_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
