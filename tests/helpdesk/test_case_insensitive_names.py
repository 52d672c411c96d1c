"""Names that differ only in case are one name: usernames, email addresses, department names."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client

from helpdesk.models import Department, Membership, Organization
from helpdesk.services import department_create, department_delete
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db

User = get_user_model()


def _signs_in(username: str, password: str) -> bool:
    """Through the login page (the lockout backend needs a request)."""
    response = Client().post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


def test_usernames_that_differ_only_in_case_clash_in_the_database() -> None:
    User.objects.create_user(username="agent", password=factories.PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="Agent", password=factories.PASSWORD)


def test_email_addresses_that_differ_only_in_case_clash_in_the_database() -> None:
    User.objects.create_user(username="one", email="agent@example.test")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="two", email="Agent@Example.test")


def test_many_users_may_have_no_email_address() -> None:
    User.objects.create_user(username="one", email="")
    User.objects.create_user(username="two", email="")
    assert User.objects.filter(email="").count() == 2


def test_login_takes_the_username_in_any_case(tenant_a: Tenant, client: Client) -> None:
    response = client.post("/accounts/login/", {"username": "ALPHA-Admin", "password": factories.PASSWORD})
    assert response.status_code == 302
    assert client.get("/o/alpha/settings/members/").status_code == 200
    assert not _signs_in("ALPHA-ADMIN", "wrong-password")
    assert not _signs_in("nobody", factories.PASSWORD)


def test_the_api_refuses_a_department_name_that_differs_only_in_case(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    response = client.post("/api/v1/departments/", {"name": "support"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    sales = client.post("/api/v1/departments/", {"name": "Sales"}, format="json").json()
    renamed = client.patch(f"/api/v1/departments/{sales['id']}/", {"name": "SUPPORT"}, format="json")
    assert renamed.status_code == 409
    # A department may change the case of its own name.
    assert client.patch(f"/api/v1/departments/{sales['id']}/", {"name": "SALES"}, format="json").status_code == 200


def test_the_departments_page_says_the_name_is_taken(tenant_a: Tenant, client: Client) -> None:
    client.force_login(tenant_a.admin.user)
    response = client.post("/o/alpha/settings/departments/", {"name": "SUPPORT"})
    assert b"A department with this name already exists." in response.content
    assert Department.objects.filter(organization=tenant_a.organization).count() == 1


def test_department_names_clash_in_the_database_whatever_their_case(tenant_a: Tenant) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Department.objects.create(organization=tenant_a.organization, name="SUPPORT")


def test_the_same_name_is_free_in_another_organization_and_after_deletion(tenant_a: Tenant, tenant_b: Tenant) -> None:
    department_create(organization=tenant_b.organization, acting_user=None, name="Billing")
    billing = department_create(organization=tenant_a.organization, acting_user=None, name="billing")
    department_delete(organization=tenant_a.organization, acting_user=None, department=billing)
    assert department_create(organization=tenant_a.organization, acting_user=None, name="BILLING").name == "BILLING"


def test_createorg_reuses_a_user_whose_name_differs_only_in_case() -> None:
    User.objects.create_user(username="root", password="a-long-enough-pass")
    call_command("createorg", "acme", "--admin", "ROOT", "--password", "whatever-else-pass")
    assert User.objects.count() == 1
    membership = Membership.objects.get(organization__slug="acme")
    assert membership.user.username == "root" and membership.user.check_password("a-long-enough-pass")


def test_createorg_refuses_an_email_address_that_differs_only_in_case() -> None:
    User.objects.create_user(username="root", email="root@example.test")
    with pytest.raises(CommandError, match="An account with this email address already exists"):
        call_command(
            "createorg", "acme", "--admin", "other", "--password", "a-long-enough-pass", "--email", "ROOT@example.test"
        )
    assert not Organization.objects.filter(slug="acme").exists()


def test_createorg_refuses_an_invalid_email_address() -> None:
    with pytest.raises(CommandError, match="Enter a valid email address"):
        call_command("createorg", "acme", "--admin", "x", "--password", "a-long-enough-pass", "--email", "nope")
