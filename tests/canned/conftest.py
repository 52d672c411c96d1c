"""Fixtures of the canned response tests: organization A with two departments, a channel of
each, a customer's conversation in the first (the agent's), and canned responses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from canned import services
from canned.models import CannedResponse
from channels.models import Channel
from helpdesk.models import Department, Membership
from messenger.models import Conversation, FacebookPage
from tests import factories
from tests.conftest import Tenant

PAGE_TOKEN = "EAAG-page-token-for-canned"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Desk:
    tenant: Tenant
    channel: Channel
    page: FacebookPage
    conversation: Conversation
    other_department: Department
    other_channel: Channel
    other_conversation: Conversation

    def canned(self, *, by: Membership | None = None, **fields: Any) -> CannedResponse:
        by = by or self.tenant.admin
        fields.setdefault("scope", "organization")
        fields.setdefault("title", f"Title of {fields.get('shortcut', 'x')}")
        if "body_en" not in fields and "body_ja" not in fields:
            fields["body_en"] = "Hello {{contact.first_name}}"
        return services.canned_response_create(
            organization=self.tenant.organization, membership=by, acting_user=by.user, **fields
        )


@pytest.fixture
def desk(tenant_a: Tenant) -> Desk:
    organization = tenant_a.organization
    channel = factories.make_channel(organization, tenant_a.department, name="Support chat")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, page_id="444555666", token=PAGE_TOKEN, name="Alpha page")
    contact = factories.make_contact(
        page, psid="PSID-7", display_name="Hanako Yamada", first_name="Hanako", last_name="Yamada"
    )
    conversation = factories.make_conversation(page, contact)
    factories.make_message(conversation, text="Hi, where is my order?", sent_at=timezone.now() - timedelta(hours=1))
    other_department = factories.make_department(organization, "Billing")
    other_channel = factories.make_channel(organization, other_department, name="Billing chat")
    other_page = factories.make_page(other_channel)
    other_conversation = factories.make_conversation(other_page)
    factories.make_message(other_conversation, text="Invoice?", sent_at=timezone.now() - timedelta(hours=1))
    return Desk(tenant_a, channel, page, conversation, other_department, other_channel, other_conversation)
