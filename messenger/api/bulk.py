"""The bulk actions of the inbox API (POST /api/v1/conversations/bulk/): what the request and
the answer hold. The work is the service's (messenger.services.conversations.bulk)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from helpdesk.drf import IdField
from messenger.services.conversations.bulk import ASSIGNEE_ME, MAX_CONVERSATIONS, BulkAction


@extend_schema_field(
    {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": [ASSIGNEE_ME]}], "nullable": True}
)
class AssigneeField(serializers.Field):
    """A member id, "me", or null (nobody)."""

    default_error_messages = {"invalid": 'A member id, "me", or null.'}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int | str | None:
        if data == ASSIGNEE_ME:
            return ASSIGNEE_ME
        return IdField().run_validation(data) if not isinstance(data, bool) else self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


class BulkSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=IdField(),
        allow_empty=False,
        help_text=f"The conversations, at most {MAX_CONVERSATIONS} (more: 400 `too_many_conversations`); "
        "one you do not see (another organization's, or not yours): 404 for the whole request.",
    )
    action = serializers.CharField(
        help_text="One of " + ", ".join(a.value for a in BulkAction) + " (another: 400 `invalid_action`)."
    )
    assignee = AssigneeField(required=False, help_text='For assign (required): a member id, "me", or null to unassign.')
    # The metaclass takes declared fields out of the class: this `label` is no Field.label.
    label = IdField(  # type: ignore[assignment]
        required=False, allow_null=True, default=None, help_text="For label_add and label_remove."
    )


class BulkWarningSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="over_capacity")
    message = serializers.CharField()
    load = serializers.IntegerField()
    capacity = serializers.IntegerField()


class BulkResultSerializer(serializers.Serializer):
    changed = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of those changed.")
    unchanged = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of those already as asked (not an error)."
    )
    warnings = BulkWarningSerializer(many=True)
