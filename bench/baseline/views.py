"""The baseline: HMAC over the raw body, then one multi-row INSERT (autocommit) of the events."""

from __future__ import annotations

import hashlib
import hmac
import json

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from bench.baseline import TABLE


@csrf_exempt
def baseline_webhook(request: HttpRequest) -> HttpResponse:
    body = request.body
    expected = "sha256=" + hmac.new(settings.FB_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), request.headers.get("X-Hub-Signature-256", "").encode()):
        return HttpResponse(status=403)
    document = json.loads(body)
    rows = [
        (str(entry["id"]), json.dumps(item))
        for entry in document.get("entry", [])
        for item in entry.get("messaging", [])
    ]
    if rows:
        values = ", ".join(["(%s, %s::jsonb, now())"] * len(rows))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (page_id, payload, received_at) VALUES {values}",
                [value for row in rows for value in row],
            )
    return HttpResponse("EVENT_RECEIVED", content_type="text/plain")
