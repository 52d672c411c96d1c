"""Saved views in the API: the caller's views (shared ones and their own) with their counts,
creating, renaming or re-filtering and deleting them, and the conversations of one view."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import OrganizationViewSet
from helpdesk.drf import ErrorSerializer
from helpdesk.models import Membership
from messenger import saved_views
from messenger.api.pagination import ConversationCursorPagination
from messenger.api.serializers import ConversationSerializer
from messenger.conversation_order import ConversationSort
from messenger.models import ConversationState, SavedView
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import filters as filter_selectors
from messenger.services import saved_views as services

FILTERS_HELP = (
    "The inbox filters, as the conversations list takes them: `channel`, `state`, `assignee`, `q`, `view`, "
    "`sort`, and `label` (a list: several labels). A value is a string or a number, or a list of them for a "
    "repeated parameter. Unknown keys are dropped; an unknown view or sort is 400 `invalid_view` / "
    "`invalid_sort`. Stored as the inbox normalises them (defaults left out)."
)


class SavedViewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    shared = serializers.BooleanField(help_text="Shared with everyone in the organization (made by an admin).")
    filters = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text='The view\'s filters, each a list of values: {"channel": ["3"], "label": ["1", "2"]}.',
    )
    query = serializers.CharField(
        help_text="The same filters as a query string: pass it to GET /api/v1/conversations/ (or open the "
        "inbox at /o/<org>/inbox/?<query>)."
    )
    count = serializers.IntegerField(
        help_text="How many conversations the view holds for the caller (the conversations they may see): "
        "open ones, unless the view filters a state (then those of that state). Kept for up to 10 seconds."
    )
    counts_state = serializers.ChoiceField(
        choices=ConversationState.values, help_text="The state of the conversations `count` counts."
    )
    can_manage = serializers.BooleanField(help_text="Whether the caller may rename, update or delete it.")
    created_at = serializers.DateTimeField()


def _entry_data(entry: saved_views.SavedViewEntry) -> dict[str, Any]:
    view = entry.view
    return {
        "id": view.pk,
        "name": view.name,
        "shared": entry.shared,
        "filters": view.params,
        "query": entry.query,
        "count": entry.count,
        "counts_state": entry.counts_state,
        "can_manage": entry.can_manage,
        "created_at": view.created_at,
    }


class FilterValuesField(serializers.JSONField):
    """A mapping of a filter to a value or a list of values."""

    def to_internal_value(self, data: Any) -> Any:
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            raise serializers.ValidationError(_("An object of filters is expected."))
        for key, value in data.items():
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in values):
                raise serializers.ValidationError(_("%(key)s: a string, a number, or a list of them.") % {"key": key})
        return data


class SavedViewCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=services.NAME_MAX_LENGTH)
    shared = serializers.BooleanField(default=False, help_text="Shared with everyone: admins only (else 403).")
    filters = FilterValuesField(default=dict, help_text=FILTERS_HELP)


class SavedViewUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=services.NAME_MAX_LENGTH, required=False)
    filters = FilterValuesField(required=False, help_text=FILTERS_HELP + " Replaces the view's filters.")


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="invalid, invalid_view, invalid_sort, saved_view_limit_reached."),
    403: OpenApiResponse(ErrorSerializer, description="permission_denied: a shared view, and the caller no admin."),
    404: OpenApiResponse(ErrorSerializer, description="Not a view the caller sees (another member's own view)."),
    409: OpenApiResponse(ErrorSerializer, description="view_name_taken: the name (case aside) is used in that scope."),
}


class SavedViewViewSet(OrganizationViewSet):
    """Saved views: inbox filters under a name, the caller's own or shared with everyone by an admin.
    Each member has at most 50 of their own; an organization at most 50 shared ones."""

    admin_only_writes = False
    pagination_class = None
    serializer_class = SavedViewSerializer
    # The sort of the view whose conversations are listed (for their pagination).
    conversation_sort = ConversationSort.NEWEST

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return saved_views.saved_view_list(organization=organization, membership=membership)

    def _view(self, pk: Any) -> SavedView:
        return saved_views.saved_view_get(organization=self.organization, membership=self.membership, view_id=pk)

    def _entry(self, view: SavedView) -> dict[str, Any]:
        for entry in saved_views.saved_view_entries(organization=self.organization, membership=self.membership):
            if entry.view.pk == view.pk:
                return _entry_data(entry)
        raise AssertionError("a view just written is one the caller sees")

    @extend_schema(
        summary="The caller's saved views: shared ones first, then their own, by name, with their counts",
        responses={200: SavedViewSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        entries = saved_views.saved_view_entries(organization=self.organization, membership=self.membership)
        return Response([_entry_data(entry) for entry in entries])

    @extend_schema(responses={200: SavedViewSerializer, 404: ERRORS[404]})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self._entry(self._view(pk)))

    @extend_schema(
        summary="Save filters under a name",
        request=SavedViewCreateSerializer,
        responses={201: SavedViewSerializer, 400: ERRORS[400], 403: ERRORS[403], 409: ERRORS[409]},
    )
    def create(self, request: Request) -> Response:
        payload = SavedViewCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        view = services.saved_view_create(
            organization=self.organization,
            membership=self.membership,
            name=payload.validated_data["name"],
            params=payload.validated_data["filters"],
            shared=payload.validated_data["shared"],
            strict=True,
        )
        return Response(self._entry(view), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Rename a view, or replace its filters",
        request=SavedViewUpdateSerializer,
        responses={200: SavedViewSerializer, **ERRORS},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        payload = SavedViewUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        view = self._view(pk)
        with transaction.atomic():  # a new name and new filters, both or neither
            view = self._apply(view, payload.validated_data)
        return Response(self._entry(view))

    def _apply(self, view: SavedView, changes: dict[str, Any]) -> SavedView:
        organization, membership = self.organization, self.membership
        if "name" in changes:
            view = services.saved_view_rename(
                organization=organization, membership=membership, view=view, name=changes["name"]
            )
        if "filters" in changes or not changes:
            # Nothing to change is still a question of permission (the filters saved again).
            view = services.saved_view_update_params(
                organization=organization,
                membership=membership,
                view=view,
                params=changes.get("filters", view.params),
                strict=True,
            )
        return view

    @extend_schema(responses={204: None, 403: ERRORS[403], 404: ERRORS[404]})
    def destroy(self, request: Request, pk: str) -> Response:
        services.saved_view_delete(organization=self.organization, membership=self.membership, view=self._view(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The conversations of a view, as GET /api/v1/conversations/?<its query> lists them",
        description="The caller's conversations matching the view's filters (every state, as the list does), "
        "in the view's sort, by keyset pages (`cursor`, `page_size`).",
        responses={200: ConversationSerializer(many=True), 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"], pagination_class=ConversationCursorPagination)
    def conversations(self, request: Request, pk: str) -> Response:
        view = self._view(pk)
        filters = filter_selectors.ConversationFilters.from_params(saved_views.params_querydict(view.params))
        self.conversation_sort = filters.sort
        conversations = conversation_selectors.conversation_list(
            organization=self.organization, membership=self.membership, filters=filters
        )
        page = self.paginate_queryset(conversations)
        data = ConversationSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)
