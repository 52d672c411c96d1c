"""People join an organization by accepting an invitation sent to their email address."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from helpdesk.models import Invitation, Membership, Role
from helpdesk.services import department_delete, invitation_create
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

User = get_user_model()


def _signs_in(username: str, password: str) -> bool:
    """Through the login page (the lockout backend needs a request)."""
    response = Client().post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


@pytest.fixture
def invite(tenant_a: Tenant, django_capture_on_commit_callbacks: Any) -> Any:
    """Alpha's admin invites an address; returns the invitation and the link's path from the email."""

    def send(email: str, *, role: str = Role.AGENT, departments: list[Any] | None = None) -> tuple[Invitation, str]:
        with django_capture_on_commit_callbacks(execute=True):
            invitation, _token = invitation_create(
                organization=tenant_a.organization,
                acting_user=tenant_a.admin.user,
                email=email,
                role=role,
                department_ids=[d.pk for d in (departments if departments is not None else [tenant_a.department])],
            )
        return invitation, _link_in(mail.outbox[-1].body)

    return send


def _link_in(body: str) -> str:
    found = re.search(r"https?://[^/\s]+(/invitations/[\w-]+/)", body)
    assert found, body
    return found.group(1)


def _comparable(page: str, email: str) -> str:
    """A page without what differs between any two renderings (tokens, ids, times) and the address."""
    page = re.sub(r'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]+"', "CSRF", page)
    page = re.sub(r"/invitations/\d+/", "/invitations/ID/", page)
    page = re.sub(r"<time[^>]*>[^<]*</time>", "TIME", page)
    return page.replace(email, "EMAIL")


def _existing_user(username: str = "erin", email: str = "erin@example.test") -> Any:
    return User.objects.create_user(username=username, email=email, password=factories.PASSWORD)


# --- Sending ------------------------------------------------------------------------------


def test_the_invitation_email_carries_a_link_to_the_invitation_page(
    tenant_a: Tenant, client: Client, invite: Any, settings: Any
) -> None:
    invitation, link = invite("new@example.test")
    [email] = mail.outbox
    assert email.to == ["new@example.test"]
    assert "Alpha" in email.subject
    assert f"{settings.PUBLIC_URL}{link}" in email.body
    # Only a hash of the token is stored.
    token = link.split("/")[2]
    assert token not in invitation.token_hash and Invitation.hash_token(token) == invitation.token_hash
    page = client.get(link)
    assert page.status_code == 200
    assert b"Join Alpha" in page.content


def test_the_invitation_email_speaks_the_organizations_language(tenant_a: Tenant, invite: Any, settings: Any) -> None:
    tenant_a.organization.language = "ja"
    tenant_a.organization.save()
    invite("new@example.test")
    assert "招待" in mail.outbox[-1].subject


def test_inviting_another_organizations_user_on_the_members_page_looks_like_inviting_anyone(
    tenant_a: Tenant, tenant_b: Tenant, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    User.objects.filter(pk=tenant_a.agent.user_id).update(email="alice@alpha.test", first_name="Alice")
    client.force_login(tenant_b.admin.user)
    pages = []
    for email in ("alice@alpha.test", "nobody@nowhere.test"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/o/bravo/settings/members/", {"email": email, "role": "agent", "departments": []}, follow=True
            )
        assert response.redirect_chain == [("/o/bravo/settings/members/", 302)]
        pages.append(_comparable(response.content.decode(), email))
        # Out of the list, so that both pages list one invitation.
        Invitation.objects.filter(email=email).update(revoked_at=timezone.now())
    assert "Invitation sent to EMAIL." in pages[0]
    assert pages[0] == pages[1]
    assert "alpha-agent" not in pages[0] and "Alice" not in pages[0]
    assert not Membership.objects.filter(organization=tenant_b.organization, user=tenant_a.agent.user).exists()
    assert len(mail.outbox) == 2


def test_the_members_page_lists_pending_invitations_and_revokes_them(
    tenant_a: Tenant, client: Client, invite: Any
) -> None:
    invitation, link = invite("pending@example.test")
    client.force_login(tenant_a.admin.user)
    page = client.get("/o/alpha/settings/members/").content.decode()
    assert "pending@example.test" in page
    revoke_url = f"/o/alpha/settings/members/invitations/{invitation.pk}/revoke/"
    assert revoke_url in page
    response = client.post(revoke_url, follow=True)
    assert b"Invitation revoked." in response.content
    assert b"pending@example.test" not in response.content
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    client.logout()
    assert client.get(link).status_code == 410


def test_another_organizations_admin_cannot_revoke_an_invitation(
    tenant_a: Tenant, tenant_b: Tenant, client: Client, invite: Any
) -> None:
    invitation, _link = invite("pending@example.test")
    client.force_login(tenant_b.admin.user)
    assert client.post(f"/o/bravo/settings/members/invitations/{invitation.pk}/revoke/").status_code == 404
    assert client.post(f"/o/alpha/settings/members/invitations/{invitation.pk}/revoke/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_an_agent_cannot_invite(tenant_a: Tenant, client: Client) -> None:
    client.force_login(tenant_a.agent.user)
    response = client.post("/o/alpha/settings/members/", {"email": "x@example.test", "role": "admin"})
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_admins_can_no_longer_create_accounts_or_set_passwords(tenant_a: Tenant, client: Client) -> None:
    client.force_login(tenant_a.admin.user)
    page = client.get("/o/alpha/settings/members/").content
    assert b'type="password"' not in page
    edit = client.get(f"/o/alpha/settings/members/{tenant_a.agent.pk}/").content
    assert b'type="password"' not in edit
    client.post(
        "/o/alpha/settings/members/",
        {"username": "carol", "password": "a-long-enough-pass", "role": "agent", "email": ""},
    )
    assert not User.objects.filter(username="carol").exists()


def test_a_form_error_names_a_bad_address(tenant_a: Tenant, client: Client) -> None:
    client.force_login(tenant_a.admin.user)
    response = client.post("/o/alpha/settings/members/", {"email": "not-an-address", "role": "agent"})
    assert response.status_code == 400
    assert b"Enter a valid email address." in response.content


def test_the_members_page_says_when_the_address_is_already_a_member(tenant_a: Tenant, client: Client) -> None:
    User.objects.filter(pk=tenant_a.agent.user_id).update(email="agent@alpha.test")
    client.force_login(tenant_a.admin.user)
    response = client.post("/o/alpha/settings/members/", {"email": "Agent@Alpha.test", "role": "agent"})
    assert response.status_code == 400
    assert b"Already a member of this organization." in response.content


# --- Answering as an existing user --------------------------------------------------------


def test_an_existing_user_logs_in_from_the_link_then_accepts_and_joins(
    tenant_a: Tenant, client: Client, invite: Any
) -> None:
    _existing_user()
    sales = factories.make_department(tenant_a.organization, "Sales")
    _invitation, link = invite("erin@example.test", role=Role.ADMIN, departments=[tenant_a.department, sales])
    page = client.get(link).content.decode()
    login_href = re.search(r'href="(/accounts/login/\?next=[^"]+)"', page)
    assert login_href and "next=%2Finvitations%2F" in login_href.group(1)
    logged_in = client.post(
        login_href.group(1).replace("&amp;", "&"),
        {"username": "erin", "password": factories.PASSWORD, "next": link},
    )
    assert logged_in["Location"] == link
    assert b"Accept and join" in client.get(link).content
    accepted = client.post(link, {"action": "accept"})
    assert accepted["Location"] == "/o/alpha/"
    membership = Membership.objects.get(organization=tenant_a.organization, user__username="erin")
    assert membership.role == Role.ADMIN and membership.is_active
    assert set(membership.departments.all()) == {tenant_a.department, sales}
    assert client.get("/o/alpha/settings/members/").status_code == 200


def test_a_user_does_not_belong_to_the_organization_before_accepting(
    tenant_a: Tenant, client: Client, invite: Any
) -> None:
    user = _existing_user()
    _invitation, link = invite("erin@example.test")
    client.force_login(user)
    client.get(link)
    assert not Membership.objects.filter(user=user).exists()
    assert client.get("/o/alpha/").status_code == 404


def test_declining_closes_the_invitation_without_joining(tenant_a: Tenant, client: Client, invite: Any) -> None:
    user = _existing_user()
    invitation, link = invite("erin@example.test")
    client.force_login(user)
    response = client.post(link, {"action": "decline"})
    assert response.status_code == 200
    assert b"You declined the invitation to join Alpha." in response.content
    invitation.refresh_from_db()
    assert invitation.declined_at is not None
    assert not Membership.objects.filter(user=user).exists()
    again = client.post(link, {"action": "accept"})
    assert again.status_code == 410
    assert not Membership.objects.filter(user=user).exists()


def test_a_new_person_can_decline_without_an_account(tenant_a: Tenant, client: Client, invite: Any) -> None:
    invitation, link = invite("new@example.test")
    assert client.post(link, {"action": "decline"}).status_code == 200
    invitation.refresh_from_db()
    assert invitation.status == "declined"


def test_accepting_while_signed_in_under_another_address_joins_that_account(
    tenant_a: Tenant, client: Client, invite: Any
) -> None:
    """The link is the credential (see services.invitation_accept): it was delivered to the address."""
    user = _existing_user(email="erin.private@example.test")
    invitation, link = invite("erin@work.example.test")
    client.force_login(user)
    client.post(link, {"action": "accept"})
    assert Membership.objects.filter(organization=tenant_a.organization, user=user, is_active=True).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_by == user


def test_a_deactivated_member_who_accepts_is_active_again_with_the_invited_role(
    tenant_a: Tenant, client: Client, invite: Any
) -> None:
    Membership.objects.filter(pk=tenant_a.agent.pk).update(is_active=False)
    User.objects.filter(pk=tenant_a.agent.user_id).update(email="agent@alpha.test")
    _invitation, link = invite("agent@alpha.test", role=Role.ADMIN)
    client.force_login(tenant_a.agent.user)
    client.post(link, {"action": "accept"})
    tenant_a.agent.refresh_from_db()
    assert tenant_a.agent.is_active and tenant_a.agent.role == Role.ADMIN


def test_an_active_member_who_opens_an_invitation_is_told_so(tenant_a: Tenant, client: Client, invite: Any) -> None:
    invitation, link = invite("someone@example.test")
    client.force_login(tenant_a.agent.user)
    response = client.post(link, {"action": "accept"})
    assert response.status_code == 409
    assert b"You are already a member of Alpha." in response.content
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_a_department_deleted_since_the_invitation_is_left_out(tenant_a: Tenant, client: Client, invite: Any) -> None:
    sales = factories.make_department(tenant_a.organization, "Sales")
    _invitation, link = invite("erin@example.test", departments=[tenant_a.department, sales])
    department_delete(organization=tenant_a.organization, acting_user=tenant_a.admin.user, department=sales)
    client.force_login(_existing_user())
    client.post(link, {"action": "accept"})
    membership = Membership.objects.get(organization=tenant_a.organization, user__username="erin")
    assert list(membership.departments.all()) == [tenant_a.department]


# --- Signing up as a new person -----------------------------------------------------------


def _signup(client: Client, link: str, **fields: str) -> Any:
    data = {
        "action": "signup",
        "first_name": "Nina",
        "last_name": "Newcomer",
        "username": "nina",
        "password": "a-long-enough-pass",
        "password_again": "a-long-enough-pass",
        **fields,
    }
    return client.post(link, data)


def test_a_new_person_signs_up_through_the_link_and_is_a_member(tenant_a: Tenant, client: Client, invite: Any) -> None:
    invitation, link = invite("nina@example.test", departments=[tenant_a.department])
    response = _signup(client, link)
    assert response.status_code == 302 and response["Location"] == "/o/alpha/"
    user = User.objects.get(username="nina")
    assert (user.first_name, user.last_name, user.email) == ("Nina", "Newcomer", "nina@example.test")
    membership = Membership.objects.get(organization=tenant_a.organization, user=user)
    assert membership.role == Role.AGENT and list(membership.departments.all()) == [tenant_a.department]
    assert client.get("/o/alpha/inbox/").status_code == 200  # logged in
    invitation.refresh_from_db()
    assert invitation.status == "accepted" and invitation.accepted_by == user
    # The password is theirs: they can log in with it.
    assert _signs_in("nina", "a-long-enough-pass")


def test_signing_up_refuses_a_weak_password_with_the_validators_reason(
    tenant_a: Tenant, client: Client, invite: Any
) -> None:
    invitation, link = invite("nina@example.test")
    response = _signup(client, link, password="12345678", password_again="12345678")
    assert response.status_code == 400
    assert b"This password is too common." in response.content
    assert not User.objects.filter(username="nina").exists()
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_signing_up_refuses_two_different_passwords(tenant_a: Tenant, client: Client, invite: Any) -> None:
    _invitation, link = invite("nina@example.test")
    response = _signup(client, link, password_again="another-long-pass")
    assert response.status_code == 400
    assert b"The two passwords differ." in response.content


def test_signing_up_with_a_username_that_differs_only_in_case_is_refused(
    tenant_a: Tenant, client: Client, invite: Any
) -> None:
    _invitation, link = invite("nina@example.test")
    response = _signup(client, link, username="ALPHA-Agent")
    assert response.status_code == 409
    assert b"This username is taken; choose another one." in response.content
    assert not Membership.objects.filter(user__email="nina@example.test").exists()


def test_signing_up_with_an_address_that_has_an_account_asks_to_log_in(
    tenant_a: Tenant, client: Client, invite: Any
) -> None:
    _existing_user(email="Nina@Example.test")
    _invitation, link = invite("nina@example.test")
    response = _signup(client, link)
    assert response.status_code == 409
    assert b"An account with this email address already exists." in response.content
    assert not User.objects.filter(username="nina").exists()


# --- Links that no longer work ------------------------------------------------------------


def test_an_expired_link_is_refused_with_a_clear_page(tenant_a: Tenant, client: Client, invite: Any) -> None:
    invitation, link = invite("late@example.test")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for response in (client.get(link), _signup(client, link)):
        assert response.status_code == 410
        assert b"This invitation has expired." in response.content
    assert not User.objects.filter(username="nina").exists()


def test_a_revoked_link_is_refused_with_a_clear_page(tenant_a: Tenant, client: Client, invite: Any) -> None:
    invitation, link = invite("gone@example.test")
    Invitation.objects.filter(pk=invitation.pk).update(revoked_at=timezone.now())
    client.force_login(_existing_user(email="gone@example.test"))
    for response in (client.get(link), client.post(link, {"action": "accept"})):
        assert response.status_code == 410
        assert b"This invitation was withdrawn" in response.content
    assert not Membership.objects.filter(user__username="erin").exists()


def test_a_used_link_cannot_be_used_again(tenant_a: Tenant, client: Client, invite: Any) -> None:
    _invitation, link = invite("nina@example.test")
    assert _signup(client, link).status_code == 302
    other = Client()
    other.force_login(_existing_user())
    response = other.post(link, {"action": "accept"})
    assert response.status_code == 410
    assert b"This invitation has already been accepted." in response.content
    assert not Membership.objects.filter(user__username="erin").exists()


def test_an_unknown_link_is_a_404_page_with_a_message(tenant_a: Tenant, client: Client, invite: Any) -> None:
    invite("someone@example.test")
    for response in (client.get("/invitations/not-a-token/"), _signup(client, "/invitations/not-a-token/")):
        assert response.status_code == 404
        assert b"This invitation link is not valid." in response.content
        assert b"Alpha" not in response.content
