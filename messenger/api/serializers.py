"""The serializers of the inbox API: conversations (with their channel, contact, assignee and
reply window), messages and their attachments, and the input of a reply and of the actions."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.functional import lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

from channels.icons import icon_api_url
from helpdesk.drf import IdField
from helpdesk.models import Organization
from labels.api import LabelBriefSerializer, label_brief
from messenger.contact_names import contact_name
from messenger.models import Conversation, Message
from messenger.reply_window import WindowState, reply_window
from messenger.selectors import conversations as conversation_selectors
from messenger.send_failures import send_failure
from messenger.services.sending import reply_rules
from sla.api import SlaStateSerializer, sla_state_data


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
    name = serializers.CharField(
        help_text="The name to show, in the request's language: Facebook's name, or a localized "
        "'unnamed customer' when Facebook gave none (placeholders such as 'John Doe' are not names)."
    )
    avatar_url = serializers.CharField(
        help_text="Facebook's profile picture URL as last given (it expires); see `avatar`."
    )
    avatar = serializers.CharField(
        allow_null=True, help_text="The API path of the picture kept by the helpdesk, or null."
    )
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
        "name": contact_name(contact),
        "avatar_url": contact.avatar_url,
        "avatar": reverse("contact-avatar", kwargs={"contact_id": contact.pk}) if contact.avatar_stored_name else None,
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
    labels = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField(
        help_text="The customer's wait against the SLA policy (first or next response); null when nobody "
        "waits, there is no target, or the minute's job has not timed this wait yet."
    )

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
            "waiting_since",
            "queued_at",
            "created_at",
            "labels",
            "sla",
        ]
        extra_kwargs = {
            "waiting_since": {
                "help_text": "Since when the customer waits for an answer (their oldest unanswered message); "
                "null when answered."
            },
            "queued_at": {"help_text": "When it joined its channel's queue of automatic assignment; null: not queued."},
        }

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

    @extend_schema_field(SlaStateSerializer(allow_null=True))
    def get_sla(self, conversation: Conversation) -> dict[str, Any] | None:
        return sla_state_data(conversation.response_sla())

    @extend_schema_field(LabelBriefSerializer(many=True))
    def get_labels(self, conversation: Conversation) -> list[dict[str, Any]]:
        # A list page has them already (conversation_selectors.with_labels: one query per page).
        # Else the conversation's own (its organization by id: no query for the row).
        organization = Organization(pk=conversation.organization_id)
        labels = conversation_selectors.conversation_label_list(organization=organization, conversation=conversation)
        return [label_brief(label) for label in labels]


class ConversationCountsSerializer(serializers.Serializer):
    mine = serializers.IntegerField(help_text="Open conversations assigned to the caller.")
    unassigned = serializers.IntegerField(help_text="Open conversations assigned to no one (the queue).")
    all = serializers.IntegerField(help_text="Every open conversation the caller sees.")


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
        refusal = reply_rules.reply_refusal(conversation=conversation)
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
    failure_reason = serializers.SerializerMethodField(
        help_text="When status is failed: why, and what to do, in words for an agent (error_code and "
        "error_message are Facebook's)."
    )

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
        failure = send_failure(message)
        return failure.text if failure else ""


def _text_help() -> str:
    return (
        f"At most {reply_rules.MAX_TEXT_LENGTH:,} characters (Unicode code points). With a file it is sent as a "
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
    kept_files = serializers.ListField(
        child=serializers.CharField(max_length=2000),
        required=False,
        max_length=10,
        help_text="Tokens of kept files (the `kept_file` of a rendered canned response's attachments, valid "
        "for a day): each is sent as its own message, after `file` and before the text. A token that is not "
        "valid, has expired or is of another organization: 400 `invalid_attachment`.",
    )
    seen_at = serializers.DateTimeField(
        required=False,
        help_text="When your client last showed the conversation to its user (ISO 8601 with an offset). A "
        "colleague's reply sent after it, within the last 2 minutes, refuses this one with 409 "
        "`colleague_replied` (`details`: their `name` and how many `seconds` ago): show it, then send again "
        "with a later `seen_at` (or none) to send anyway. Without it, no check.",
    )


class AssignSerializer(serializers.Serializer):
    assignee_id = IdField(
        allow_null=True, help_text="A member id (see /api/v1/members/) of an agent of the channel, or null."
    )


class ForwardSerializer(serializers.Serializer):
    to_membership_id = IdField(required=False, help_text="Transfer to this agent of the channel…")
    to_channel_id = IdField(required=False, help_text="…or file under this other channel.")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class LabelRefSerializer(serializers.Serializer):
    # DRF's metaclass moves declared fields out of the class; the stubs see Field.label overridden.
    label = IdField(help_text="The id of one of the organization's labels (GET /api/v1/labels/).")  # type: ignore[assignment]
