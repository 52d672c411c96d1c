"""`seed_demo` links the sandbox's Demo Page to "Demo Messenger" (department Support)."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from channels.models import AgentChannel, Channel
from messenger.crypto import decrypt_token
from messenger.models import FacebookPage, PageStatus
from messenger.sandbox.models import SandboxToken
from messenger.sandbox.tokens import secret_hash

pytestmark = pytest.mark.django_db


def _seed() -> dict[str, Any]:
    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_seed_demo_links_the_demo_page_to_a_demo_channel_once() -> None:
    first = _seed()
    channel = Channel.objects.get(pk=first["channel_id"])
    assert (channel.name, channel.department.name, channel.organization.slug) == ("Demo Messenger", "Support", "demo")
    assert first["page_id"] == "100000000000101"
    page = FacebookPage.objects.get(page_id="100000000000101", unlinked_at__isnull=True)
    assert (page.channel_id, page.status, page.name) == (channel.pk, PageStatus.ACTIVE, "Demo Page")
    # The token is one the sandbox issued for that page.
    assert SandboxToken.objects.filter(token_hash=secret_hash(decrypt_token(page.access_token_encrypted))).exists()
    assert AgentChannel.objects.filter(channel=channel, membership__user__username="agent").exists()

    second = _seed()
    assert (second["channel_id"], second["page_id"]) == (first["channel_id"], first["page_id"])
    assert Channel.objects.filter(name="Demo Messenger").count() == 1
    assert FacebookPage.objects.filter(page_id="100000000000101").count() == 1


def test_seed_demo_gives_a_dead_demo_page_a_fresh_token() -> None:
    _seed()
    FacebookPage.objects.update(status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason="token_expired")
    _seed()
    assert FacebookPage.objects.get().status == PageStatus.ACTIVE


def test_without_the_sandbox_no_channel_is_seeded(settings: Any) -> None:
    settings.GRAPH_SANDBOX = False
    result = _seed()
    assert "channel_id" not in result and not Channel.objects.exists()
