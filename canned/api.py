"""REST API of canned responses: the ones the caller may use or manage (searched), creating,
changing and deleting them (admins the shared ones, everyone their own), and rendering one
in a conversation (its text filled in, its files as kept-file tokens for the reply)."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, pagination, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from canned import selectors, services
from canned.models import SHORTCUT_MAX_LENGTH, TITLE_MAX_LENGTH, CannedResponse, CannedScope
from canned.variables import VARIABLES
from helpdesk.api import OrganizationAPIView, OrganizationViewSet
from helpdesk.drf import ErrorSerializer, IdField
from helpdesk.exceptions import NotFound
from helpdesk.files import file_response
from helpdesk.models import Membership
from messenger.selectors import conversations as conversation_selectors

_VARIABLES_HELP = "Variables: " + ", ".join(f"`{{{{{name}}}}}`" for name in VARIABLES) + "."
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="invalid, unknown_variable (`details.variable` names it)."),
    403: OpenApiResponse(ErrorSerializer, description="permission_denied: agents manage their own only."),
    404: OpenApiResponse(ErrorSerializer, description="Not a canned response you may see."),
    409: OpenApiResponse(ErrorSerializer, description="shortcut_taken: the shortcut is used in that scope."),
}


class CannedPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


class CannedAttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    type = serializers.CharField()


class CannedAttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The file (multipart/form-data).")


class CannedResponseSerializer(serializers.ModelSerializer):
    attachments = CannedAttachmentSerializer(many=True, read_only=True)
    can_manage = serializers.SerializerMethodField()

    class Meta:
        model = CannedResponse
        fields = [
            "id",
            "scope",
            "department_id",
            "owner_id",
            "shortcut",
            "title",
            "body_en",
            "body_ja",
            "usage_count",
            "last_used_at",
            "attachments",
            "can_manage",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.BooleanField(help_text="Whether the caller may change or delete it."))
    def get_can_manage(self, canned_response: CannedResponse) -> bool:
        membership = self.context["membership"]
        return selectors.may_manage(membership=membership, canned_response=canned_response)


class CannedResponseInputSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=CannedScope.choices, help_text="`personal` for anyone; `organization` and `department` for admins."
    )
    department_id = IdField(required=False, allow_null=True, help_text="Required with scope `department`.")
    shortcut = serializers.CharField(
        max_length=SHORTCUT_MAX_LENGTH + 1,
        help_text="Letters, digits, - and _; a leading / is dropped. Unique (case aside) in its scope.",
    )
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    body_en = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, help_text=_VARIABLES_HELP)
    body_ja = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, help_text=_VARIABLES_HELP)


class CannedResponseUpdateSerializer(CannedResponseInputSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class CannedFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=selectors.SEARCH_MAX_LENGTH)
    scope = serializers.ChoiceField(choices=CannedScope.choices, required=False)


class CannedResponseViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """Canned responses the caller may use or manage: the organization's, the departments'
    (every department's for admins, their own departments' for agents) and their own."""

    serializer_class = CannedResponseSerializer
    pagination_class = CannedPagination
    admin_only_writes = False

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        query = CannedFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.canned_list(
            organization=organization,
            membership=membership,
            query=query.validated_data.get("q", ""),
            scope=query.validated_data.get("scope", ""),
        )

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "membership": self.membership}

    def _output(self, canned_response: CannedResponse, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.canned_get(
            organization=self.organization, membership=self.membership, canned_id=canned_response.pk
        )
        data = CannedResponseSerializer(fresh, context={"membership": self.membership}).data
        return Response(data, status=status_code)

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="A part of the shortcut, title or either text."),
            OpenApiParameter("scope", str, enum=CannedScope.values),
        ],
        responses={200: CannedResponseSerializer(many=True), 400: ERRORS[400]},
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: CannedResponseSerializer, 404: ERRORS[404]})
    def retrieve(self, request: Request, pk: str) -> Response:
        return self._output(
            selectors.canned_get(organization=self.organization, membership=self.membership, canned_id=pk)
        )

    @extend_schema(request=CannedResponseInputSerializer, responses={201: CannedResponseSerializer, **ERRORS})
    def create(self, request: Request) -> Response:
        payload = CannedResponseInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        canned_response = services.canned_response_create(
            organization=self.organization,
            membership=self.membership,
            acting_user=request.user,
            **payload.validated_data,
        )
        return self._output(canned_response, status.HTTP_201_CREATED)

    @extend_schema(request=CannedResponseUpdateSerializer, responses={200: CannedResponseSerializer, **ERRORS})
    def partial_update(self, request: Request, pk: str) -> Response:
        canned_response = selectors.canned_get(organization=self.organization, membership=self.membership, canned_id=pk)
        payload = CannedResponseUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.canned_response_update(
            organization=self.organization,
            membership=self.membership,
            canned_response=canned_response,
            **payload.validated_data,
        )
        return self._output(canned_response)

    @extend_schema(responses={204: None, 403: ERRORS[403], 404: ERRORS[404]})
    def destroy(self, request: Request, pk: str) -> Response:
        canned_response = selectors.canned_get(organization=self.organization, membership=self.membership, canned_id=pk)
        services.canned_response_delete(
            organization=self.organization, membership=self.membership, canned_response=canned_response
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Add a file to the canned response",
        description="multipart/form-data, field `file`: checked as an agent's outbound file (400 "
        "`invalid_attachment` and the like); at most three files per response (400 `invalid`).",
        request={"multipart/form-data": CannedAttachmentUploadSerializer},
        responses={201: CannedResponseSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="attachments", parser_classes=[MultiPartParser])
    def attachments(self, request: Request, pk: str) -> Response:
        canned_response = selectors.canned_get(organization=self.organization, membership=self.membership, canned_id=pk)
        payload = CannedAttachmentUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.canned_attachment_add(
            organization=self.organization,
            membership=self.membership,
            canned_response=canned_response,
            upload=payload.validated_data["file"],
        )
        return self._output(canned_response, status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="Download one of the canned response's files",
        description="Served as every kept file: the type read from its bytes, inline only for raster images.",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: ERRORS[404]},
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Remove a file from the canned response",
        responses={204: None, 403: ERRORS[403], 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get", "delete"], url_path="attachments/<id:attachment_id>")
    def attachment(self, request: Request, pk: str, attachment_id: int) -> Any:
        canned_response = selectors.canned_get(organization=self.organization, membership=self.membership, canned_id=pk)
        if request.method == "DELETE":
            services.canned_attachment_remove(
                organization=self.organization,
                membership=self.membership,
                canned_response=canned_response,
                attachment_id=attachment_id,
            )
            return Response(status=status.HTTP_204_NO_CONTENT)
        attachment = selectors.canned_attachment_get(
            organization=self.organization, membership=self.membership, attachment_id=attachment_id
        )
        if attachment.canned_response_id != canned_response.pk:
            raise NotFound
        try:
            handle = default_storage.open(attachment.stored_name, "rb")
        except (FileNotFoundError, OSError):
            raise NotFound from None
        return file_response(handle, file_name=attachment.title)


class RenderedAttachmentSerializer(serializers.Serializer):
    title = serializers.CharField()
    kept_file = serializers.CharField(
        help_text="Pass it in `kept_files` when replying (POST …/messages/): valid for a day."
    )


class RenderedResponseSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="The text with its variables filled in.")
    language = serializers.ChoiceField(choices=["en", "ja"])
    length = serializers.IntegerField(help_text="Characters (Unicode code points).")
    too_long = serializers.BooleanField(help_text="Longer than a reply may be (1,600): a send would be refused.")
    attachments = RenderedAttachmentSerializer(many=True)


class CannedRenderView(OrganizationAPIView):
    """A canned response filled in for this conversation (the customer's language when
    Facebook gave it, else the organization's), its files as kept-file tokens; counts a use.
    Nothing is sent: the caller replies with the text (edited or not) and the tokens."""

    admin_only_writes = False

    @extend_schema(request=None, responses={200: RenderedResponseSerializer, 404: ERRORS[404]})
    def post(self, request: Request, conversation_id: int, canned_id: int) -> Response:
        conversation = conversation_selectors.conversation_get(
            organization=self.organization, membership=self.membership, conversation_id=conversation_id
        )
        rendered = services.canned_response_use(
            organization=self.organization,
            membership=self.membership,
            acting_user=request.user,
            conversation=conversation,
            canned_id=canned_id,
        )
        return Response(RenderedResponseSerializer(rendered).data)
