"""The ticket page links to the stored copies of the ticket's attachments."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from messenger.models import MessageKind
from tests.tickets.conftest import T0, Desk, make_ticket


@pytest.mark.django_db
def test_the_ticket_links_to_our_copy_and_to_facebook_while_not_downloaded(
    desk: Desk, client: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    name = default_storage.save("messenger/inbound/1/1/0-abc-photo.png", ContentFile(b"\x89PNG"))
    kept = desk.say(
        "",
        T0,
        kind=MessageKind.ATTACHMENT,
        attachments=[
            {"type": "image", "url": "https://cdn.example/old.png", "stored_name": name, "content_type": "image/png"}
        ],
    )
    desk.say("", T0, kind=MessageKind.ATTACHMENT, attachments=[{"type": "file", "url": "https://cdn.example/f.pdf"}])
    ticket = make_ticket(desk, "See the photo")
    client.force_login(desk.tenant.agent.user)
    body = client.get(f"/o/alpha/tickets/{ticket.pk}/").content.decode()
    assert f'src="/o/alpha/inbox/messages/{kept.pk}/attachments/0/"' in body
    assert "https://cdn.example/old.png" not in body.split('id="attachments-heading"')[1]
    assert 'href="https://cdn.example/f.pdf"' in body
