"""Settings for the webhook benchmark: the product's own, plus a baseline view beside it."""

from __future__ import annotations

from settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DEBUG = False
# Access and info logs would measure the terminal, not the webhook.
LOGGING["root"]["level"] = "WARNING"  # type: ignore[index]  # noqa: F405
