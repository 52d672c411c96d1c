"""The product's URLs, and the baseline webhook at /bench/baseline/."""

from __future__ import annotations

from django.urls import path

from bench.baseline.views import baseline_webhook
from helpdesk.urls import urlpatterns as product_urlpatterns

urlpatterns = [path("bench/baseline/", baseline_webhook), *product_urlpatterns]
