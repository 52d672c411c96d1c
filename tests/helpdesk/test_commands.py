from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from helpdesk.models import Membership, Organization, Role
from labels.models import Label

pytestmark = pytest.mark.django_db


def test_createorg_makes_an_organization_with_its_first_admin() -> None:
    call_command("createorg", "acme", "--name", "Acme", "--admin", "root", "--password", "a-long-enough-pass")
    organization = Organization.objects.get(slug="acme")
    membership = Membership.objects.get(organization=organization)
    assert membership.role == Role.ADMIN and membership.user.check_password("a-long-enough-pass")


def test_createorg_refuses_a_taken_slug() -> None:
    call_command("createorg", "acme", "--admin", "root", "--password", "a-long-enough-pass")
    with pytest.raises(CommandError, match="already exists"):
        call_command("createorg", "acme", "--admin", "other", "--password", "a-long-enough-pass")


def _seed_json() -> dict[str, Any]:
    out = io.StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_seed_demo_is_idempotent_and_its_credentials_work() -> None:
    first = _seed_json()
    second = _seed_json()
    assert first == second
    assert Organization.objects.filter(slug="demo").count() == 1
    assert {u["username"] for u in first["users"]} == {"admin", "agent"}
    # A few labels to try the inbox's filter with, made once.
    assert sorted(Label.objects.filter(organization__slug="demo").values_list("name", flat=True)) == [
        "Refund",
        "Shipping",
        "VIP",
    ]
    for user in first["users"]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {user['api_token']}")
        assert client.get("/api/v1/departments/").status_code == 200
        web = APIClient()
        # Through the sign-in form, as a person would (it is throttled, so it needs a request).
        signed_in = web.post("/accounts/login/", {"username": user["username"], "password": user["password"]})
        assert signed_in.status_code == 302, signed_in.content
