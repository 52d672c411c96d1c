"""Settings for the webhook benchmark: the product's own, plus a baseline view beside it."""

from __future__ import annotations

import os

from settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DEBUG = False
# Access and info logs would measure the terminal, not the webhook.
LOGGING["root"]["level"] = "WARNING"  # type: ignore[index]  # noqa: F405
# bench/downloads.py only: its slow stand-in for Facebook's CDN on 127.0.0.1 is fetched as it
# is (a test/benchmark setting; the product never reads it from the environment).
if os.environ.get("BENCH_ATTACHMENT_CDN"):
    ATTACHMENT_FETCH_TEST_PREFIXES = [os.environ["BENCH_ATTACHMENT_CDN"]]
# bench/outgoing.py only: its local receivers (http on 127.0.0.1) are delivered to as they are
# (a test/benchmark setting; the product never reads it from the environment).
if os.environ.get("BENCH_OUTGOING_RECEIVERS"):
    OUTGOING_WEBHOOK_TEST_PREFIXES = os.environ["BENCH_OUTGOING_RECEIVERS"].split(",")
