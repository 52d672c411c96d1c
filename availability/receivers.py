"""Receivers of Django's own signals (connected in AvailabilityConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from availability import services


@receiver(user_logged_out, dispatch_uid="availability.logged_out")
def set_offline_on_logout(sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any) -> None:
    """Signing out sets the member offline in each of their organizations; signing in changes nothing."""
    services.availability_logged_out(user=user)
