"""The webhook receiver (one URL for every organization) and the admins' event log page."""

from __future__ import annotations

import hmac
import json
import logging

from csp.decorators import csp_exempt
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from helpdesk.converters import parse_id
from helpdesk.tenancy import TenantRequest, admin_required
from messenger.models import WebhookOutcome
from messenger.webhook import later, outcomes, parsed, payload, selectors
from messenger.webhook.receive import webhook_receive
from messenger.webhook.signature import signature_is_valid

logger = logging.getLogger(__name__)

_TEXT = "text/plain; charset=utf-8"
EVENT_LOG_PAGE_SIZE = 100


@csrf_exempt
# A plain-text answer to Facebook, never a page: no Content-Security-Policy to build.
@csp_exempt()
@require_http_methods(["GET", "POST"])
def messenger_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _verification(request)
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return HttpResponse("Bad Content-Length", status=400, content_type=_TEXT)
    if declared > limit:
        return HttpResponse("Payload too large", status=413, content_type=_TEXT)
    body = request.read(limit + 1)
    if len(body) > limit:
        return HttpResponse("Payload too large", status=413, content_type=_TEXT)
    if not signature_is_valid(body, request.headers.get("X-Hub-Signature-256"), settings.FB_APP_SECRET):
        logger.warning("webhook: refused a POST with a missing or wrong signature")
        return HttpResponse("Invalid signature", status=403, content_type=_TEXT)
    try:
        document = payload.body_document(body)
    except ValueError:
        return HttpResponse("Not JSON", status=400, content_type=_TEXT)
    if not isinstance(document, dict):
        return HttpResponse("Not a webhook body", status=400, content_type=_TEXT)
    try:
        if settings.WEBHOOK_APPLY_LATER:
            later.keep(body=body, received_at=timezone.now())
        else:
            webhook_receive(body=document, received_at=timezone.now())
    except DatabaseError:
        # Nothing was committed: Facebook delivers again when it gets no 200.
        logger.exception("webhook: database unavailable, asking Facebook to retry")
        response = HttpResponse("Try again later", status=503, content_type=_TEXT)
        response["Retry-After"] = "5"
        return response
    return HttpResponse("EVENT_RECEIVED", content_type=_TEXT)


def _verification(request: HttpRequest) -> HttpResponse:
    """Facebook's subscription handshake: echo hub.challenge when the verify token matches."""
    mode = request.GET.get("hub.mode", "")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge", "")
    expected = settings.FB_VERIFY_TOKEN
    if mode == "subscribe" and expected and hmac.compare_digest(token.encode(), expected.encode()):
        return HttpResponse(challenge, content_type=_TEXT)
    return HttpResponse("Verification failed", status=403, content_type=_TEXT)


# --- The event log (admins) ----------------------------------------------------------------

REASON_LABELS = {
    outcomes.REASON_UNKNOWN_PAGE: _("No linked page has this id"),
    outcomes.REASON_CHANNEL_DISABLED: _("The channel is disabled"),
    outcomes.REASON_CHANNEL_DELETED: _("The channel was deleted"),
    outcomes.REASON_UNKNOWN_MESSAGE: _("The message it refers to is unknown"),
    outcomes.REASON_NOTHING_TO_UPDATE: _("Nothing left to update"),
    outcomes.REASON_CONTACT_BLOCKED: _("Stored hidden: the customer is blocked"),
    outcomes.REASON_STANDBY: _("Received in standby (another app owns the thread)"),
    outcomes.REASON_ATTACHMENTS_NOT_KEPT: _("Stored; files over the limit (10 a message, 50 a delivery) not kept"),
    outcomes.REASON_GAVE_UP: _("Gave up after repeated failures"),
    parsed.REASON_NOT_HANDLED: _("A kind the helpdesk does not act on"),
    parsed.REASON_UNKNOWN_KIND: _("Unknown kind of event"),
    parsed.REASON_DASHBOARD_TEST: _("Test sent from the App Dashboard"),
    parsed.REASON_CHANGES_NOT_HANDLED: _("Page change not subscribed to"),
    parsed.REASON_UNSUPPORTED_OBJECT: _("Not a page event"),
    parsed.REASON_MALFORMED: _("Malformed event"),
    parsed.REASON_NO_SENDER: _("No sender"),
    parsed.REASON_NO_TARGET: _("Nothing it refers to"),
}


@admin_required
@require_GET
def webhook_events(request: TenantRequest) -> HttpResponse:
    organization = request.organization
    outcome = request.GET.get("outcome", "")
    kind = request.GET.get("kind", "")
    search = request.GET.get("q", "")
    events = selectors.webhook_event_list(organization=organization, outcome=outcome, kind=kind, search=search)
    before = parse_id(request.GET.get("before", ""))
    if before > 0:
        # "Older" pages continue after the last event shown, in the list's own order.
        last = selectors.webhook_event_list(organization=organization).filter(pk=before).first()
        if last is not None:
            events = events.filter(
                Q(received_at__lt=last.received_at) | Q(received_at=last.received_at, pk__lt=last.pk)
            )
    page = list(events[: EVENT_LOG_PAGE_SIZE + 1])
    has_older = len(page) > EVENT_LOG_PAGE_SIZE
    page = page[:EVENT_LOG_PAGE_SIZE]
    rows = [
        {
            "event": event,
            "reason_label": REASON_LABELS.get(event.reason, event.reason),
            "payload": json.dumps(event.payload, indent=2, ensure_ascii=False, sort_keys=True),
        }
        for event in page
    ]
    return render(
        request,
        "messenger/webhook_events.html",
        {
            "rows": rows,
            "outcome": outcome,
            "kind": kind,
            "q": search,
            "outcomes": WebhookOutcome.choices,
            "kinds": selectors.FILTER_KINDS,
            "older_than": page[-1].pk if has_older and page else None,
            "settings_tab": "webhook_events",
        },
    )
