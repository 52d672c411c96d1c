"""REST API: a contact's data (export as a zip, erase) and the audit log, for admins."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, pagination, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import OrganizationAPIView
from helpdesk.drf import ErrorSerializer
from privacy import contact_data, selectors
from privacy.audit import entry_action_label, entry_object_label
from privacy.models import AuditEntry

CONTACT_ERRORS = {
    403: OpenApiResponse(ErrorSerializer, description="permission_denied: admins only."),
    404: OpenApiResponse(ErrorSerializer, description="Not a contact of this organization."),
}


class _AdminsOnly(OrganizationAPIView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self.membership.is_admin:
            raise exceptions.PermissionDenied(_("Only admins can do this."))


class _ContactAction(OrganizationAPIView):
    # The contact is looked up first (404 for whoever does not see it), then admins only (403).
    admin_only_writes = False


class ContactExportView(_ContactAction):
    @extend_schema(
        operation_id="contact_export",
        request=None,
        responses={(200, "application/zip"): OpenApiTypes.BINARY, **CONTACT_ERRORS},
        description="Everything held about the contact: a zip with `contact.json` (profile, conversations "
        "with messages and notes, tickets) and the customer's files under `attachments/`. Audited.",
    )
    def post(self, request: Request, contact_id: int) -> HttpResponse:
        contact = contact_data.contact_for_admin(
            organization=self.organization, membership=self.membership, contact_id=contact_id
        )
        export = contact_data.contact_export(organization=self.organization, acting_user=request.user, contact=contact)
        response = HttpResponse(export.content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{export.file_name}"'
        return response


class ContactEraseInputSerializer(serializers.Serializer):
    confirm = serializers.BooleanField(help_text="Must be true: the erasure cannot be undone.")


class ContactEraseOutputSerializer(serializers.Serializer):
    conversations = serializers.IntegerField()
    messages = serializers.IntegerField()
    tickets = serializers.IntegerField()
    files = serializers.IntegerField()


class ContactEraseView(_ContactAction):
    @extend_schema(
        operation_id="contact_erase",
        request=ContactEraseInputSerializer,
        responses={
            200: ContactEraseOutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description="erase_not_confirmed: `confirm` was not true."),
            **CONTACT_ERRORS,
        },
        description="Erase the customer's message texts, files, profile, notes and ticket texts; the "
        "conversations stay as counted stubs for reports. Audited.",
    )
    def post(self, request: Request, contact_id: int) -> Response:
        contact = contact_data.contact_for_admin(
            organization=self.organization, membership=self.membership, contact_id=contact_id
        )
        confirm = request.data.get("confirm") if isinstance(request.data, dict) else None
        counts = contact_data.contact_erase(
            organization=self.organization,
            acting_user=request.user,
            contact=contact,
            confirmed=confirm is True or confirm in ("true", "1", "on"),
            now=timezone.now(),
        )
        return Response(ContactEraseOutputSerializer(counts).data)


class AuditEntrySerializer(serializers.ModelSerializer):
    action = serializers.SerializerMethodField()
    object = serializers.SerializerMethodField()
    object_type = serializers.SerializerMethodField()
    actor_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "timestamp",
            "actor_id",
            "actor_email",
            "remote_addr",
            "event",
            "action",
            "object_type",
            "object_pk",
            "object",
            "changes",
            "additional_data",
        ]

    def get_action(self, entry: AuditEntry) -> str:
        return entry_action_label(entry)

    def get_object(self, entry: AuditEntry) -> str:
        return entry_object_label(entry)

    def get_object_type(self, entry: AuditEntry) -> str:
        return f"{entry.content_type.app_label}.{entry.content_type.model}"


class AuditPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class AuditLogView(_AdminsOnly):
    pagination_class = AuditPagination

    @extend_schema(
        operation_id="audit_log_list",
        parameters=[
            OpenApiParameter("q", str, description="Matches actor, action, object and changed values."),
            OpenApiParameter("date_from", OpenApiTypes.DATE, description="First day (the organization's time zone)."),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="Last day (the organization's time zone)."),
        ],
        responses={200: AuditEntrySerializer(many=True), 403: CONTACT_ERRORS[403]},
        description="The organization's audit log, newest first (admins only; read-only).",
    )
    def get(self, request: Request) -> Response:
        filters = _AuditFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = selectors.audit_entries(
            organization=self.organization,
            query=filters.validated_data.get("q", ""),
            date_from=filters.validated_data.get("date_from"),
            date_to=filters.validated_data.get("date_to"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(AuditEntrySerializer(page, many=True).data)


class _AuditFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
