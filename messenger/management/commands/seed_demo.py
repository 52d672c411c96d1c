"""Idempotent demo data: organization `demo`, two departments, an admin and an agent with
known passwords and API tokens, a few labels, and a Messenger channel linked to a sandbox page."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from channels.models import AgentChannel, Channel, ChannelKind
from helpdesk.models import ApiToken, Department, Membership, Organization, Role
from helpdesk.services import api_token_create
from labels.models import Label, LabelColor
from messenger.models import FacebookPage, PageStatus
from messenger.pages.authorization import page_authorization_renew
from messenger.sandbox.bootstrap import sandbox_bootstrap
from messenger.sandbox.models import SandboxPage
from messenger.sandbox.people import sandbox_page_token_issue

DEMO_USERS = {
    "admin": {"password": "demo-admin-password", "role": Role.ADMIN, "token": "hd_demo_admin_token_0123456789abcdef"},
    "agent": {"password": "demo-agent-password", "role": Role.AGENT, "token": "hd_demo_agent_token_0123456789abcdef"},
}
DEMO_DEPARTMENTS = ["Support", "Sales"]
DEMO_LABELS = {"Refund": LabelColor.RED, "VIP": LabelColor.PURPLE, "Shipping": LabelColor.BLUE}
DEMO_CHANNEL_NAME = "Demo Messenger"
DEMO_PAGE_ID = "100000000000101"  # the sandbox's "Demo Page"


class Command(BaseCommand):
    help = "Create (or complete) the demo organization. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print what exists as one JSON object.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        organization, _ = Organization.objects.get_or_create(
            slug="demo", defaults={"name": "Demo Company", "time_zone": "Asia/Tokyo", "language": "en"}
        )
        departments = [
            # A deleted department of the same name is history, not the demo's department.
            Department.objects.get_or_create(organization=organization, name=name, deleted_at=None)[0]
            for name in DEMO_DEPARTMENTS
        ]
        users_out = []
        for username, spec in DEMO_USERS.items():
            # "Admin" would be the same user as "admin" (usernames are unique whatever their case).
            user, created = User.objects.get_or_create(
                username__iexact=username, defaults={"username": username, "email": f"{username}@demo.test"}
            )
            if created:
                user.first_name = username.capitalize()
                user.last_name = "Demo"
                user.set_password(spec["password"])
                user.save()
            membership, _ = Membership.objects.get_or_create(
                organization=organization, user=user, defaults={"role": spec["role"]}
            )
            membership.departments.add(departments[0])
            if not ApiToken.objects.filter(key_hash=ApiToken.hash_key(spec["token"])).exists():
                api_token_create(membership=membership, name="demo", key=spec["token"])
            users_out.append(
                {"username": username, "password": spec["password"], "role": spec["role"], "api_token": spec["token"]}
            )
        for name, color in DEMO_LABELS.items():
            if not Label.objects.filter(organization=organization, name__iexact=name).exists():
                Label.objects.create(organization=organization, name=name, color=color)
        result: dict[str, Any] = {
            "organization": organization.slug,
            "departments": [{"id": d.pk, "name": d.name} for d in departments],
            "users": users_out,
        }
        result.update(self.seed_channel(organization=organization, department=departments[0]))
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(self.style.SUCCESS(f"Demo organization '{organization.slug}' is ready."))
            for user_out in users_out:
                self.stdout.write(f"  {user_out['role']}: {user_out['username']} / {user_out['password']}")

    def seed_channel(self, *, organization: Organization, department: Department) -> dict[str, Any]:
        """With the Graph sandbox: channel "Demo Messenger" (department Support) answering the
        sandbox's Demo Page, authorized with a sandbox page token; its agents associated.

        Idempotent: an existing channel and link are kept; a link that lost its authorization
        gets a fresh token."""
        if not settings.GRAPH_SANDBOX:
            return {}
        sandbox_bootstrap()
        channel = Channel.objects.filter(
            organization=organization, name=DEMO_CHANNEL_NAME, deleted_at__isnull=True
        ).first()
        if channel is None:
            channel = Channel.objects.create(
                organization=organization, department=department, kind=ChannelKind.MESSENGER, name=DEMO_CHANNEL_NAME
            )
        for membership in Membership.objects.filter(organization=organization, role=Role.AGENT, departments=department):
            AgentChannel.objects.get_or_create(organization=organization, membership=membership, channel=channel)
        page = FacebookPage.objects.filter(page_id=DEMO_PAGE_ID, unlinked_at__isnull=True).first()
        if page is not None and page.channel_id != channel.pk:
            # Linked elsewhere (someone linked it by hand): a page answers one channel only.
            return {"channel_id": channel.pk, "page_id": None}
        if page is None or page.status == PageStatus.REAUTHORIZATION_REQUIRED:
            now = timezone.now()
            sandbox_page = SandboxPage.objects.get(page_id=DEMO_PAGE_ID)
            page = page or FacebookPage(organization=organization, channel=channel, page_id=DEMO_PAGE_ID)
            page.name = sandbox_page.name
            page_authorization_renew(
                page=page,
                page_token=sandbox_page_token_issue(page_id=DEMO_PAGE_ID),
                token_expires_at=None,
                now=now,
            )
        return {"channel_id": channel.pk, "page_id": DEMO_PAGE_ID}
