from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpdesk.exceptions import HelpdeskError
from helpdesk.services import organization_create


class Command(BaseCommand):
    help = "Create an organization with its first admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL name of the organization, e.g. acme")
        parser.add_argument("--name", help="Display name (defaults to the slug)")
        parser.add_argument("--admin", required=True, help="Username of the first admin")
        parser.add_argument("--password", required=True, help="Password of the first admin (if the user is new)")
        parser.add_argument("--email", default="")
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--language", default="en", choices=["en", "ja"])

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization, membership = organization_create(
                name=options["name"] or options["slug"],
                slug=options["slug"],
                admin_username=options["admin"],
                admin_password=options["password"],
                admin_email=options["email"],
                time_zone=options["time_zone"],
                language=options["language"],
            )
        except HelpdeskError as error:
            raise CommandError(str(error.message)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Created organization '{organization.slug}' with admin '{membership.user.username}'.")
        )
