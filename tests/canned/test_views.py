"""The settings pages of canned responses, their files, and the composer's endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from canned import services
from canned.models import CannedResponse, CannedResponseUse
from tests import factories
from tests.canned.conftest import Desk
from tests.channels import images
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


def settings_url(desk: Desk, tail: str = "") -> str:
    return f"/o/{desk.tenant.organization.slug}/settings/canned-responses/{tail}"


def form(**fields: Any) -> dict[str, Any]:
    return {
        "scope": "organization",
        "department": "",
        "shortcut": "hello",
        "title": "Hello",
        "body_en": "Hi!",
        **fields,
    }


def test_an_admin_creates_edits_and_deletes_a_shared_one(desk: Desk, web_client_for: Any) -> None:
    client = web_client_for(desk.tenant.admin)
    page = client.get(settings_url(desk, "new/"))
    assert page.status_code == 200
    assert "{{contact.first_name}}" in page.content.decode()  # the variables are listed
    created = client.post(settings_url(desk, "new/"), form(body_ja="{{contact.name}}様"))
    response = CannedResponse.objects.get(shortcut="hello")
    assert created.status_code == 302 and created["Location"] == settings_url(desk, f"{response.pk}/")
    listing = client.get(settings_url(desk)).content.decode()
    assert "/hello" in listing and "English" in listing and "Japanese" in listing
    edited = client.post(settings_url(desk, f"{response.pk}/"), form(title="Hello there"))
    assert edited.status_code == 302
    response.refresh_from_db()
    assert response.title == "Hello there"
    assert client.post(settings_url(desk, f"{response.pk}/delete/")).status_code == 302
    assert not CannedResponse.objects.filter(pk=response.pk).exists()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"shortcut": "two words"}, "shortcut", "letters, digits"),
        ({"body_en": "{{contact.email}}"}, "body_en", "contact.email"),
        ({"body_en": "", "body_ja": ""}, "body_en", "in both"),
        ({"scope": "department"}, "department", "Choose a department"),
    ],
)
def test_bad_input_is_a_form_error(
    desk: Desk, web_client_for: Any, fields: dict[str, Any], field: str, message: str
) -> None:
    page = web_client_for(desk.tenant.admin).post(settings_url(desk, "new/"), form(**fields))
    assert page.status_code == 400
    errors = page.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert not CannedResponse.objects.exists()


def test_a_duplicate_shortcut_is_a_form_error_but_fine_in_another_scope(desk: Desk, web_client_for: Any) -> None:
    desk.canned(shortcut="hello")
    client = web_client_for(desk.tenant.admin)
    page = client.post(settings_url(desk, "new/"), form(shortcut="HELLO"))
    assert page.status_code == 400 and "shortcut" in page.context["form"].errors
    other = client.post(settings_url(desk, "new/"), form(scope="department", department=desk.other_department.pk))
    assert other.status_code == 302


def test_an_agent_has_their_own_page_and_reads_shared_ones(desk: Desk, web_client_for: Any) -> None:
    shared = desk.canned(shortcut="shared", body_en="Shared text")
    colleague = factories.make_member(desk.tenant.organization, departments=[desk.tenant.department])
    theirs = desk.canned(by=colleague, scope="personal", shortcut="theirs")
    client = web_client_for(desk.tenant.agent)
    listing = client.get(settings_url(desk)).content.decode()
    assert "My canned responses" in listing and "/shared" in listing and "/theirs" not in listing
    assert "Read only" in listing
    # The form offers "Only me" alone; posting a shared scope anyway is refused.
    page = client.get(settings_url(desk, "new/"))
    assert [value for value, _label in page.context["form"].fields["scope"].choices] == ["personal"]
    assert client.post(settings_url(desk, "new/"), form(scope="organization")).status_code == 400
    assert client.post(settings_url(desk, "new/"), form(scope="personal")).status_code == 302
    # A shared one is shown read-only; changing or deleting it is forbidden.
    shown = client.get(settings_url(desk, f"{shared.pk}/")).content.decode()
    assert "Shared text" in shown and 'name="title"' not in shown
    assert client.post(settings_url(desk, f"{shared.pk}/"), form(title="x")).status_code == 403
    assert client.post(settings_url(desk, f"{shared.pk}/delete/")).status_code == 403
    # A colleague's own does not exist for them.
    assert client.get(settings_url(desk, f"{theirs.pk}/")).status_code == 404
    assert client.post(settings_url(desk, f"{theirs.pk}/delete/")).status_code == 404
    assert CannedResponse.objects.filter(pk__in=[shared.pk, theirs.pk]).count() == 2
    # Reachable from Preferences.
    assert settings_url(desk) in client.get(f"/o/{desk.tenant.organization.slug}/preferences/").content.decode()


def test_files_are_added_served_safely_and_removed(
    desk: Desk, web_client_for: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    response = desk.canned(shortcut="files")
    client = web_client_for(desk.tenant.admin)
    add_url = settings_url(desk, f"{response.pk}/files/")
    client.post(add_url, {"file": SimpleUploadedFile("page.html", b"<script>alert(1)</script>", "text/html")})
    client.post(add_url, {"file": SimpleUploadedFile("p.png", images.image_bytes("PNG"), "image/png")})
    html, png = response.attachments.order_by("pk")
    served = client.get(f"/o/{desk.tenant.organization.slug}/canned-files/{html.pk}/")
    assert served.status_code == 200
    assert served["Content-Type"] == "application/octet-stream" and served["Content-Disposition"].startswith(
        "attachment"
    )
    image = client.get(f"/o/{desk.tenant.organization.slug}/canned-files/{png.pk}/")
    assert image["Content-Type"] == "image/png" and image["Content-Disposition"].startswith("inline")
    # An agent who may read the response may download its file.
    agent = web_client_for(desk.tenant.agent)
    assert agent.get(f"/o/{desk.tenant.organization.slug}/canned-files/{png.pk}/").status_code == 200
    client = web_client_for(desk.tenant.admin)
    removed = client.post(settings_url(desk, f"{response.pk}/files/{html.pk}/remove/"))
    assert removed.status_code == 302 and list(response.attachments.all()) == [png]


def test_the_composer_offers_the_search_and_inserts_a_response(desk: Desk, web_client_for: Any) -> None:
    response = desk.canned(shortcut="thanks", title="Thank you", body_en="Thank you {{contact.first_name}}!")
    client = web_client_for(desk.tenant.agent)
    slug = desk.tenant.organization.slug
    page = client.get(f"/o/{slug}/inbox/{desk.conversation.pk}/").content.decode()
    assert f'data-canned-url="/o/{slug}/inbox/{desk.conversation.pk}/canned/"' in page
    assert "canned/canned.js" in page
    found = client.get(f"/o/{slug}/inbox/{desk.conversation.pk}/canned/", {"q": "than"}).json()["results"]
    assert [(row["shortcut"], row["title"]) for row in found] == [("thanks", "Thank you")]
    rendered = client.post(found[0]["render_url"]).json()
    assert rendered["text"] == "Thank you Hanako!" and rendered["too_long"] is False
    response.refresh_from_db()
    assert response.usage_count == 1


def test_the_composer_says_when_a_filled_in_response_is_too_long(desk: Desk, web_client_for: Any) -> None:
    contact = desk.conversation.contact
    contact.first_name = "Hanako" * 10
    contact.save()
    response = desk.canned(shortcut="long", body_en="x" * 1570 + " {{contact.first_name}}")
    client = web_client_for(desk.tenant.agent)
    url = f"/o/{desk.tenant.organization.slug}/inbox/{desk.conversation.pk}/canned/{response.pk}/render/"
    rendered = client.post(url).json()
    assert rendered["too_long"] is True and rendered["length"] == 1631
    assert "1,631" in rendered["too_long_message"] and "1,600" in rendered["too_long_message"]


def test_an_agent_cannot_search_or_insert_in_a_conversation_they_cannot_see(desk: Desk, web_client_for: Any) -> None:
    response = desk.canned(shortcut="hi")
    client = web_client_for(desk.tenant.agent)
    base = f"/o/{desk.tenant.organization.slug}/inbox/{desk.other_conversation.pk}/canned/"
    assert client.get(base, {"q": "hi"}).status_code == 404
    assert client.post(f"{base}{response.pk}/render/").status_code == 404
    assert CannedResponseUse.objects.count() == 0


def test_another_organization_gets_404_for_every_page(
    desk: Desk, tenant_b: Tenant, web_client_for: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    response = desk.canned(shortcut="hi")
    attachment = services.canned_attachment_add(
        organization=desk.tenant.organization,
        membership=desk.tenant.admin,
        canned_response=response,
        upload=SimpleUploadedFile("a.pdf", b"%PDF-1.4 a"),
    )
    client = web_client_for(tenant_b.admin)
    a = desk.tenant.organization.slug
    b = tenant_b.organization.slug
    conversation = desk.conversation.pk
    for slug in (a, b):
        base = f"/o/{slug}/settings/canned-responses/"
        gets = [
            f"{base}{response.pk}/",
            f"/o/{slug}/canned-files/{attachment.pk}/",
            f"/o/{slug}/inbox/{conversation}/canned/",
        ]
        posts = [
            f"{base}{response.pk}/",
            f"{base}{response.pk}/delete/",
            f"{base}{response.pk}/files/",
            f"{base}{response.pk}/files/{attachment.pk}/remove/",
            f"/o/{slug}/inbox/{conversation}/canned/{response.pk}/render/",
        ]
        for url in gets:
            assert client.get(url).status_code == 404, url
        for url in posts:
            assert client.post(url, form()).status_code == 404, url
    assert client.get(f"/o/{a}/settings/canned-responses/").status_code == 404
    assert "/hi" not in client.get(f"/o/{b}/settings/canned-responses/").content.decode()
    assert CannedResponse.objects.filter(pk=response.pk, title="Title of hi").exists()
    assert response.attachments.count() == 1 and CannedResponseUse.objects.count() == 0


def test_the_settings_list_is_a_fixed_number_of_queries(
    desk: Desk, web_client_for: Any, django_assert_max_num_queries: Any
) -> None:
    for n in range(5):
        desk.canned(shortcut=f"s{n}", scope="department", department_id=desk.tenant.department.pk)
    client = web_client_for(desk.tenant.admin)
    client.get(settings_url(desk))
    with django_assert_max_num_queries(12) as captured:
        client.get(settings_url(desk))
    count = len(captured)
    for n in range(5, 15):
        desk.canned(shortcut=f"s{n}", scope="department", department_id=desk.other_department.pk)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as more:
        client.get(settings_url(desk))
    assert len(more) == count
