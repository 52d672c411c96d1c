"""REST API of channels (admins write; agents read what they may see).

    GET    /api/v1/channels/                         list (agents: their associated channels)
    POST   /api/v1/channels/                         create (multipart with `icon`, or JSON)
    GET    /api/v1/channels/{id}/                    retrieve
    PATCH  /api/v1/channels/{id}/                    name, department_id, icon (multipart; "" clears),
                                                     assignment_mode (off, round_robin, least_loaded),
                                                     asks_for_rating (true/false)
    DELETE /api/v1/channels/{id}/                    soft delete
    POST   /api/v1/channels/{id}/disable/            stop sending and receiving
    POST   /api/v1/channels/{id}/enable/
    GET    /api/v1/channels/{id}/icon/               the icon (PNG), to any member of the organization
    GET    /api/v1/channels/{id}/pages/              linked pages with status and reason (never tokens);
                                                     ?include_removed=true adds removed ones
    DELETE /api/v1/channels/{id}/pages/{page_pk}/    remove a page from the channel
    GET    /api/v1/channels/{id}/agents/             the members associated with the channel
    PUT    /api/v1/channels/{id}/agents/             {"membership_ids": [...]}: exactly these
    GET    /api/v1/departments/{id}/settings/        {"ticket_delay_minutes"}
    PATCH  /api/v1/departments/{id}/settings/
    GET    /api/v1/departments/{id}/business-hours/  the week, holidays, out-of-hours reply
    PUT    /api/v1/departments/{id}/business-hours/  the same, as a whole

Linking a page needs Facebook Login in a browser (Settings → Channels).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from channels import hours, selectors, services
from channels.icons import channel_icon_response, icon_api_url
from channels.kinds import LinkedPage, backend_for
from channels.models import TICKET_DELAY_MAX_MINUTES, TICKET_DELAY_MIN_MINUTES, Channel
from helpdesk.api import OrganizationAPIView, OrganizationViewSet
from helpdesk.drf import CursorPagination, ErrorSerializer, IdField, JSONParser
from helpdesk.exceptions import NotFound
from helpdesk.models import Membership
from helpdesk.selectors import department_get, department_list


class PageHealthSerializer(serializers.Serializer):
    last_event_at = serializers.DateTimeField(allow_null=True)
    last_sent_at = serializers.DateTimeField(allow_null=True)
    subscription = serializers.ChoiceField(choices=["unknown", "subscribed", "resubscribed", "dropped"])
    subscription_checked_at = serializers.DateTimeField(allow_null=True)
    resubscribed_at = serializers.DateTimeField(allow_null=True)
    is_silent = serializers.SerializerMethodField()
    silent_since = serializers.DateTimeField(allow_null=True)

    def get_is_silent(self, health: Any) -> bool:
        return health.silent_since is not None


class LinkedPageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    page_id = serializers.CharField(source="external_id")
    name = serializers.CharField()
    status = serializers.CharField()
    reauthorization_reason = serializers.CharField(source="reason")
    authorized_at = serializers.DateTimeField(allow_null=True)
    token_expires_at = serializers.DateTimeField(allow_null=True)
    reauthorize_by = serializers.DateTimeField(allow_null=True)
    unlinked_at = serializers.DateTimeField(allow_null=True)
    health = PageHealthSerializer(allow_null=True)


class ChannelSerializer(serializers.ModelSerializer):
    department_id = serializers.IntegerField()
    department_name = serializers.CharField(source="department.name")
    icon_url = serializers.SerializerMethodField()
    pages = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "id",
            "kind",
            "name",
            "icon_url",
            "department_id",
            "department_name",
            "is_enabled",
            "assignment_mode",
            "asks_for_rating",
            "pages",
            "created_at",
            "updated_at",
        ]

    def get_icon_url(self, channel: Channel) -> str | None:
        if not channel.icon:
            return None
        request = self.context.get("request")
        path = icon_api_url(channel)
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(LinkedPageSerializer(many=True))
    def get_pages(self, channel: Channel) -> list[dict[str, Any]]:
        pages: dict[int, list[LinkedPage]] = self.context.get("pages", {})
        # many=True makes a ListSerializer, whose data is a list; the DRF stubs type the child's dict.
        return LinkedPageSerializer(pages.get(channel.pk, []), many=True).data  # type: ignore[return-value]


class ChannelCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    department_id = IdField(min_value=1)
    icon = serializers.FileField(required=False, allow_null=True)


class ChannelUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    department_id = IdField(min_value=1, required=False)
    # A file replaces the icon; an empty value clears it.
    icon = serializers.FileField(required=False, allow_null=True, allow_empty_file=False)
    # Checked by the service (400 invalid_assignment_mode): off, round_robin or least_loaded.
    assignment_mode = serializers.CharField(
        required=False, help_text="Automatic assignment: off, round_robin or least_loaded."
    )
    asks_for_rating = serializers.BooleanField(
        required=False, help_text="Ask customers for a rating when an agent closes or resolves."
    )


class ChannelViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    OrganizationViewSet,
):
    serializer_class = ChannelSerializer
    pagination_class = CursorPagination
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Channel]:
        return selectors.channel_visible_list(organization=organization, membership=membership)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "pages": getattr(self, "_pages", {})}

    def _with_pages(self, channels: list[Channel]) -> None:
        by_kind: dict[str, list[int]] = {}
        for channel in channels:
            by_kind.setdefault(channel.kind, []).append(channel.pk)
        self._pages: dict[int, list[LinkedPage]] = {}
        for kind, channel_ids in by_kind.items():
            self._pages.update(
                backend_for(kind).pages_by_channel(organization=self.organization, channel_ids=channel_ids)
            )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        channels = list(page) if page is not None else list(self.get_queryset())
        self._with_pages(channels)
        data = self.get_serializer(channels, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def _one(self, pk: Any) -> Channel:
        channel = self.get_queryset().filter(pk=pk).first()
        if channel is None:
            raise NotFound
        return channel

    def _render(self, channel: Channel, code: int = status.HTTP_200_OK) -> Response:
        channel = self._one(channel.pk)
        self._with_pages([channel])
        return Response(self.get_serializer(channel).data, status=code)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._render(self._one(kwargs["pk"]))

    @extend_schema(
        request={"multipart/form-data": ChannelCreateSerializer, "application/json": ChannelCreateSerializer}
    )
    def create(self, request: Request) -> Response:
        payload = ChannelCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        channel = services.channel_create(
            organization=self.organization,
            acting_user=request.user,
            name=payload.validated_data["name"],
            department_id=payload.validated_data["department_id"],
            icon=payload.validated_data.get("icon"),
        )
        return self._render(channel, status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": ChannelUpdateSerializer, "application/json": ChannelUpdateSerializer}
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        payload = ChannelUpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        changes: dict[str, Any] = {}
        if "icon" in data:
            changes["icon"] = data["icon"] or None
        channel = services.channel_update(
            organization=self.organization,
            acting_user=request.user,
            channel=self._one(pk),
            name=data.get("name"),
            department_id=data.get("department_id"),
            assignment_mode=data.get("assignment_mode"),
            asks_for_rating=data.get("asks_for_rating"),
            **changes,
        )
        return self._render(channel)

    def destroy(self, request: Request, pk: str) -> Response:
        services.channel_delete(organization=self.organization, acting_user=request.user, channel=self._one(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: ChannelSerializer})
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, pk: str) -> Response:
        channel = services.channel_disable(
            organization=self.organization, acting_user=request.user, channel=self._one(pk)
        )
        return self._render(channel)

    @extend_schema(request=None, responses={200: ChannelSerializer})
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str) -> Response:
        channel = services.channel_enable(
            organization=self.organization, acting_user=request.user, channel=self._one(pk)
        )
        return self._render(channel)


class _ChannelScoped(OrganizationAPIView):
    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Channel]:
        return selectors.channel_visible_list(organization=organization, membership=membership)

    def channel(self, channel_id: int) -> Channel:
        channel = self.get_queryset().filter(pk=channel_id).first()
        if channel is None:
            raise NotFound
        return channel


class ChannelIconView(OrganizationAPIView):
    """Any member of the organization may fetch its channels' icons (deleted channels too)."""

    admin_only_writes = False

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Channel]:
        return selectors.channel_list(organization=organization, include_deleted=True)

    @extend_schema(
        summary="The channel's icon",
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            404: OpenApiResponse(ErrorSerializer, description="No such channel, or it has no icon."),
        },
    )
    def get(self, request: Request, channel_id: int) -> FileResponse:
        return channel_icon_response(organization=self.organization, channel_id=channel_id)


class ChannelPagesView(_ChannelScoped):
    @extend_schema(
        parameters=[OpenApiParameter("include_removed", bool, required=False)],
        responses={200: LinkedPageSerializer(many=True)},
    )
    def get(self, request: Request, channel_id: int) -> Response:
        channel = self.channel(channel_id)
        include_removed = request.query_params.get("include_removed", "").lower() in ("1", "true", "yes")
        pages = backend_for(channel.kind).pages_by_channel(
            organization=self.organization, channel_ids=[channel.pk], include_removed=include_removed
        )
        return Response(LinkedPageSerializer(pages.get(channel.pk, []), many=True).data)


class ChannelPageView(_ChannelScoped):
    @extend_schema(responses={200: LinkedPageSerializer})
    def delete(self, request: Request, channel_id: int, page_pk: int) -> Response:
        channel = self.channel(channel_id)
        page = backend_for(channel.kind).page_remove(
            organization=self.organization, acting_user=request.user, channel=channel, page_pk=page_pk
        )
        return Response(LinkedPageSerializer(page).data)


class ChannelAgentSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    display_name = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "username", "display_name", "role", "is_active"]

    def get_display_name(self, membership: Membership) -> str:
        return membership.user.get_full_name() or membership.user.username


class ChannelAgentsView(_ChannelScoped):
    @extend_schema(responses={200: ChannelAgentSerializer(many=True)})
    def get(self, request: Request, channel_id: int) -> Response:
        channel = self.channel(channel_id)
        members = selectors.channel_agent_list(organization=self.organization, channel=channel)
        return Response(ChannelAgentSerializer(members, many=True).data)

    @extend_schema(
        request=inline_serializer("ChannelAgentsSet", {"membership_ids": serializers.ListField(child=IdField())}),
        responses={200: ChannelAgentSerializer(many=True)},
    )
    def put(self, request: Request, channel_id: int) -> Response:
        channel = self.channel(channel_id)
        payload = _MembershipIds(data=request.data)
        payload.is_valid(raise_exception=True)
        services.channel_agents_set(
            organization=self.organization,
            acting_user=request.user,
            channel=channel,
            membership_ids=payload.validated_data["membership_ids"],
        )
        members = selectors.channel_agent_list(organization=self.organization, channel=channel)
        return Response(ChannelAgentSerializer(members, many=True).data)


class _MembershipIds(serializers.Serializer):
    membership_ids = serializers.ListField(child=IdField(), allow_empty=True)


class DepartmentSettingsSerializer(serializers.Serializer):
    department_id = serializers.IntegerField(read_only=True)
    ticket_delay_minutes = serializers.IntegerField(
        min_value=TICKET_DELAY_MIN_MINUTES, max_value=TICKET_DELAY_MAX_MINUTES
    )


class DepartmentSettingsView(OrganizationAPIView):
    """A department's channel settings: the idle time before a chat becomes a ticket."""

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return department_list(organization=organization)

    def _body(self, department_id: int) -> dict[str, int]:
        return {
            "department_id": department_id,
            "ticket_delay_minutes": selectors.ticket_delay_minutes(
                organization=self.organization, department_id=department_id
            ),
        }

    @extend_schema(responses={200: DepartmentSettingsSerializer})
    def get(self, request: Request, department_id: int) -> Response:
        department = department_get(organization=self.organization, department_id=department_id)
        return Response(self._body(department.pk))

    @extend_schema(request=DepartmentSettingsSerializer, responses={200: DepartmentSettingsSerializer})
    def patch(self, request: Request, department_id: int) -> Response:
        department = department_get(organization=self.organization, department_id=department_id)
        payload = DepartmentSettingsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.department_ticket_delay_set(
            organization=self.organization,
            acting_user=request.user,
            department_id=department.pk,
            minutes=payload.validated_data["ticket_delay_minutes"],
        )
        return Response(self._body(department.pk))


class BusinessIntervalSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(help_text="0 is Monday, 6 is Sunday.")
    start = serializers.CharField(help_text='Local wall-clock time, "09:00".')
    end = serializers.CharField(help_text='Local wall-clock time, "18:00"; "24:00" is midnight at the end of the day.')


class HolidaySerializer(serializers.Serializer):
    date = serializers.DateField()
    name = serializers.CharField(allow_blank=True, required=False, default="")


class BusinessHoursSerializer(serializers.Serializer):
    department_id = serializers.IntegerField(read_only=True)
    time_zone = serializers.CharField(read_only=True, help_text="The organization's time zone: times are read in it.")
    is_enabled = serializers.BooleanField()
    intervals = BusinessIntervalSerializer(many=True)
    holidays = HolidaySerializer(many=True)
    out_of_hours_reply_en = serializers.CharField(allow_blank=True, trim_whitespace=False)
    out_of_hours_reply_ja = serializers.CharField(allow_blank=True, trim_whitespace=False)


class DepartmentBusinessHoursView(OrganizationAPIView):
    """A department's business hours: the week (local wall-clock intervals), the holidays
    and the out-of-hours reply. Bad intervals: 400 ``invalid_schedule`` naming the day; a
    reply over the message limit: 400 ``message_too_long``."""

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return department_list(organization=organization)

    def _body(self, department_id: int) -> dict[str, Any]:
        current = hours.business_hours_get(organization=self.organization, department_id=department_id)
        return {
            "department_id": department_id,
            "time_zone": self.organization.time_zone,
            "is_enabled": bool(current and current.is_enabled),
            "intervals": [
                {
                    "weekday": interval.weekday,
                    "start": hours.clock_text(interval.start_minute),
                    "end": hours.clock_text(interval.end_minute),
                }
                for interval in (current.intervals.all() if current else [])
            ],
            "holidays": [
                {"date": holiday.date.isoformat(), "name": holiday.name}
                for holiday in (current.holidays.all() if current else [])
            ],
            "out_of_hours_reply_en": current.out_of_hours_reply_en if current else "",
            "out_of_hours_reply_ja": current.out_of_hours_reply_ja if current else "",
        }

    @extend_schema(responses={200: BusinessHoursSerializer})
    def get(self, request: Request, department_id: int) -> Response:
        department = department_get(organization=self.organization, department_id=department_id)
        return Response(self._body(department.pk))

    @extend_schema(
        request=BusinessHoursSerializer,
        responses={200: BusinessHoursSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def put(self, request: Request, department_id: int) -> Response:
        department = department_get(organization=self.organization, department_id=department_id)
        payload = BusinessHoursSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        services.business_hours_set(
            organization=self.organization,
            acting_user=request.user,
            department_id=department.pk,
            is_enabled=data["is_enabled"],
            intervals=[_interval(item) for item in data["intervals"]],
            holidays=[services.HolidayInput(item["date"], item.get("name", "")) for item in data["holidays"]],
            out_of_hours_reply_en=data["out_of_hours_reply_en"],
            out_of_hours_reply_ja=data["out_of_hours_reply_ja"],
        )
        return Response(self._body(department.pk))


def _interval(item: dict[str, Any]) -> hours.Interval:
    weekday = item["weekday"]
    start = hours.clock_minutes(item["start"])
    end = hours.clock_minutes(item["end"], is_end=True)
    if start is None or end is None:
        day = hours.WEEKDAY_NAMES[weekday] if 0 <= weekday <= 6 else str(weekday)
        message = _("%(day)s: “%(text)s” is not a time range such as 09:00-18:00.") % {
            "day": day,
            "text": f"{item['start']}-{item['end']}",
        }
        raise hours.InvalidSchedule(message, details={"intervals": [message]})
    return hours.Interval(weekday, start, end)
