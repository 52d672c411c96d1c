"""The Graph API over HTTP: parse the request, call ``graph_api``, ``send_api`` or ``uploads``, answer JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from messenger.sandbox import errors, graph_api, send_api, uploads
from messenger.sandbox.views._common import sandbox_only

GraphView = Callable[..., dict[str, Any]]
# Send API fields that arrive as JSON strings when a caller posts a form instead of JSON.
_JSON_FORM_FIELDS = ("recipient", "message")


def _error_response(error: errors.SandboxGraphError) -> JsonResponse:
    response = JsonResponse(error.body(), status=error.http_status)
    if error.code == 190:
        response["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{error.message}"'
    return response


def graph_endpoint(*methods: str) -> Callable[[GraphView], Callable[..., HttpResponse]]:
    """A Graph endpoint: CSRF-exempt (called by servers), Facebook-shaped errors."""

    def decorate(view: GraphView) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return _error_response(errors.unknown_object(kwargs.get("node_id", request.path), request.method or ""))
            try:
                return JsonResponse(view(request, *args, **kwargs))
            except errors.SandboxGraphError as error:
                return _error_response(error)

        return csrf_exempt(sandbox_only(wrapper))

    return decorate


def _params(request: HttpRequest) -> dict[str, str]:
    params = {key: request.GET[key] for key in request.GET}
    if request.method == "POST" and request.content_type != "application/json":
        params |= {key: request.POST[key] for key in request.POST}
    return params


def access_token_of(request: HttpRequest) -> str | None:
    """``access_token`` from the query or form, else ``Authorization: Bearer|OAuth <token>``."""
    token = _params(request).get("access_token")
    if token:
        return token
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return None


@graph_endpoint("GET", "POST")
def oauth_access_token(request: HttpRequest, version: str) -> dict[str, Any]:
    return graph_api.oauth_access_token(_params(request))


@graph_endpoint("GET")
def debug_token(request: HttpRequest, version: str) -> dict[str, Any]:
    params = _params(request)
    return graph_api.debug_token(input_token=params.get("input_token"), access_token=access_token_of(request))


@graph_endpoint("GET")
def accounts(request: HttpRequest, version: str, node_id: str) -> dict[str, Any]:
    params = _params(request)

    def next_url(after: str) -> str:
        query = {**params, "after": after}
        return request.build_absolute_uri(request.path) + "?" + urlencode(query)

    return graph_api.accounts_list(
        node_id=node_id,
        raw_token=access_token_of(request),
        limit=params.get("limit"),
        after=params.get("after"),
        next_url=next_url,
    )


@graph_endpoint("GET", "POST", "DELETE")
def subscribed_apps(request: HttpRequest, version: str, node_id: str) -> dict[str, Any]:
    token = access_token_of(request)
    if request.method == "POST":
        fields = _params(request).get("subscribed_fields")
        return graph_api.subscription_set(page_id=node_id, raw_token=token, subscribed_fields=fields)
    if request.method == "DELETE":
        return graph_api.subscription_delete(page_id=node_id, raw_token=token)
    return graph_api.subscription_get(page_id=node_id, raw_token=token)


@graph_endpoint("GET")
def node(request: HttpRequest, version: str, node_id: str) -> dict[str, Any]:
    """``GET /{psid}`` (a customer's profile), or ``GET /me``."""

    def profile_pic_url(psid: str) -> str:
        return request.build_absolute_uri(reverse("sandbox:profile_pic", kwargs={"psid": psid}))

    return graph_api.node_get(
        node_id=node_id,
        raw_token=access_token_of(request),
        fields=_params(request).get("fields"),
        profile_pic_url=profile_pic_url,
    )


def _send_body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, RecursionError):
            raise errors.invalid_parameter("The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise errors.invalid_parameter("The request body must be a JSON object")
        return body
    body = {key: value for key, value in _params(request).items() if key != "access_token"}
    for key in _JSON_FORM_FIELDS:
        if key in body:
            try:
                body[key] = json.loads(body[key])
            except (ValueError, RecursionError):
                raise errors.invalid_parameter(f"param {key} must be JSON") from None
    return body


def _upload_url(request: HttpRequest) -> Callable[[str], str]:
    def file_url(attachment_id: str) -> str:
        return request.build_absolute_uri(reverse("sandbox:upload_file", kwargs={"attachment_id": attachment_id}))

    return file_url


@csrf_exempt
@sandbox_only
def messages(request: HttpRequest, version: str, node_id: str) -> HttpResponse:
    """``POST /{page-id}/messages`` and ``/me/messages``: the Send API (JSON, a form, or
    multipart with the file in ``filedata``)."""
    if request.method != "POST":
        return _error_response(errors.unknown_object(node_id, request.method or ""))
    try:
        body = _send_body(request)
    except errors.SandboxGraphError as error:
        return _error_response(error)
    answer = send_api.send_api_call(
        node_id=node_id,
        raw_token=access_token_of(request),
        body=body,
        filedata=request.FILES.get("filedata") if request.content_type == "multipart/form-data" else None,
        file_url=_upload_url(request),
    )
    return JsonResponse(answer.body, status=answer.http_status)


@csrf_exempt
@sandbox_only
def message_attachments(request: HttpRequest, version: str, node_id: str) -> HttpResponse:
    """``POST /{page-id}/message_attachments``: the Attachment Upload API (multipart only)."""
    if request.method != "POST":
        return _error_response(errors.unknown_object(node_id, request.method or ""))
    if request.content_type != "multipart/form-data":
        return _error_response(
            errors.invalid_parameter("The Attachment Upload API takes multipart/form-data with a filedata part")
        )
    answer = uploads.attachment_upload(
        node_id=node_id,
        raw_token=access_token_of(request),
        message=request.POST.get("message"),
        filedata=request.FILES.get("filedata"),
    )
    return JsonResponse(answer.body, status=answer.http_status)


@csrf_exempt
@sandbox_only
def unknown_path(request: HttpRequest, rest: str) -> HttpResponse:
    return _error_response(errors.SandboxGraphError(f"Unknown path components: /{rest}", code=2500))
