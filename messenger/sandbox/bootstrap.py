"""The sandbox's starting point: "Sandbox Admin" with three pages and their customers, made
once (the controls page, the login dialog and ``seed_demo`` ask for it), and the reset that
forgets everything (tests, the controls page)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from messenger.sandbox.models import (
    SandboxAuthCode,
    SandboxCustomer,
    SandboxCustomerMessage,
    SandboxOutboundWebhook,
    SandboxPage,
    SandboxSendCall,
    SandboxSendFailure,
    SandboxSubscription,
    SandboxToken,
    SandboxUpload,
    SandboxUser,
)
from messenger.sandbox.people import ALL_PERMISSIONS

DEFAULT_USER_ID = "100000000000010"
DEFAULT_USER_NAME = "Sandbox Admin"
DEFAULT_PAGES: tuple[tuple[str, str], ...] = (
    ("100000000000101", "Demo Page"),
    ("100000000000102", "Second Page"),
    ("100000000000103", "Third Page"),
)
# Per page: two customers with a profile, one without (profile lookups answer 2018218).
DEFAULT_CUSTOMERS: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = (
    (("Aiko", "Tanaka"), ("Ben", "Carter")),
    (("Chloé", "Martin"), ("Diego", "Alvarez")),
    (("Emma", "Schmidt"), ("Farid", "Haddad")),
)


def sandbox_reset() -> None:
    """Forget everything (tests)."""
    with transaction.atomic():
        for model in (
            SandboxOutboundWebhook,
            SandboxSendCall,
            SandboxUpload,
            SandboxSendFailure,
            SandboxCustomerMessage,
            SandboxCustomer,
            SandboxSubscription,
            SandboxAuthCode,
            SandboxToken,
            SandboxPage,
            SandboxUser,
        ):
            model.objects.all().delete()


def _default_psid(page_id: str, number: int) -> str:
    return f"7{page_id[-3:]}{number:012d}"


def sandbox_bootstrap() -> SandboxUser:
    """Idempotent: "Sandbox Admin" with Demo Page (100000000000101), Second Page (…102) and
    Third Page (…103), each with two customers with profiles and one without."""
    try:
        with transaction.atomic():
            return _bootstrap()
    except IntegrityError:  # a concurrent bootstrap won the race: its rows are ours
        return SandboxUser.objects.get(facebook_id=DEFAULT_USER_ID)


def _bootstrap() -> SandboxUser:
    user, _ = SandboxUser.objects.get_or_create(
        facebook_id=DEFAULT_USER_ID,
        defaults={"name": DEFAULT_USER_NAME, "granted_permissions": list(ALL_PERMISSIONS), "app_installed": True},
    )
    for (page_id, name), people in zip(DEFAULT_PAGES, DEFAULT_CUSTOMERS, strict=True):
        page, _ = SandboxPage.objects.get_or_create(page_id=page_id, defaults={"name": name, "owner": user})
        for number, (first_name, last_name) in enumerate(people, start=1):
            SandboxCustomer.objects.get_or_create(
                page=page,
                psid=_default_psid(page_id, number),
                defaults={"first_name": first_name, "last_name": last_name},
            )
        SandboxCustomer.objects.get_or_create(
            page=page,
            psid=_default_psid(page_id, 3),
            defaults={"first_name": "Private", "last_name": "Person", "has_profile": False},
        )
    return user
