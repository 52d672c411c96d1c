"""Pagination of the inbox API: conversations by keyset on last activity (the inbox's own
cursor, ``conversation_selectors.conversation_page``), a conversation's messages newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from helpdesk.converters import parse_int
from helpdesk.drf import CursorPagination
from messenger.conversation_order import ConversationSort
from messenger.selectors import conversations as conversation_selectors


class ConversationCursorPagination(BasePagination):
    """Keyset pages in the list's sort (by default last activity, newest first); the cost is
    the same at any depth."""

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
        page = conversation_selectors.conversation_page(
            queryset,
            cursor=request.query_params.get(self.cursor_query_param),
            page_size=page_size,
            # Parsed (and refused when unknown) with the filters, by the view's scoped_queryset.
            sort=getattr(view, "conversation_sort", ConversationSort.NEWEST),
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
