"""The controls page: the sandbox's people, pages and tokens, and what can go wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from messenger.sandbox import bootstrap, deletions, revocations, selectors, send_failures, webhooks
from messenger.sandbox.forms import (
    FailureScriptForm,
    PageActionForm,
    PermissionRevokeForm,
    TokensExpireForm,
    UserActionForm,
)
from messenger.sandbox.models import SandboxUser
from messenger.sandbox.views._common import sandbox_only


@sandbox_only
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    if not SandboxUser.objects.exists():
        bootstrap.sandbox_bootstrap()
    context = {
        "overview": selectors.sandbox_overview(),
        "send_log": selectors.send_log(),
        "webhooks": selectors.webhook_counts(),
        "failure_form": FailureScriptForm(),
        "permission_form": PermissionRevokeForm(),
    }
    return render(request, "sandbox/index.html", context)


def _control(
    form_class: type[forms.Form], action: Callable[[dict[str, Any]], str]
) -> Callable[[HttpRequest], HttpResponse]:
    """A POST control: validate the form, run the action, say what happened, go back."""

    @sandbox_only
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        form = form_class(request.POST)
        if form.is_valid():
            messages.success(request, action(form.cleaned_data))
        else:
            errors = "; ".join(str(error) for field_errors in form.errors.values() for error in field_errors)
            messages.error(request, errors)
        return redirect("sandbox:index")

    return view


def _expire(data: dict[str, Any]) -> str:
    page = data.get("page")
    count = revocations.sandbox_tokens_expire(user=data.get("user"), page_id=page.page_id if page else None)
    return _("%(count)s token(s) expired: calls now fail with 190/463.") % {"count": count}


def _revoke(data: dict[str, Any]) -> str:
    revocations.sandbox_permission_revoke(user=data["user"], permission=data["permission"])
    return _("%(permission)s revoked for %(name)s.") % {"permission": data["permission"], "name": data["user"].name}


def _remove_app(data: dict[str, Any]) -> str:
    revocations.sandbox_app_remove(user=data["user"])
    return _("%(name)s removed the app: their tokens fail with 190/458.") % {"name": data["user"].name}


def _request_deletion(data: dict[str, Any]) -> str:
    result = deletions.sandbox_data_deletion_request(user=data["user"])
    if result.status != 200:
        return _("%(name)s removed the app; the data deletion callback was refused or failed (HTTP %(status)s).") % {
            "name": data["user"].name,
            "status": result.status,
        }
    return _("%(name)s removed the app and asked for deletion: confirmation code %(code)s, status page %(url)s.") % {
        "name": data["user"].name,
        "code": result.confirmation_code,
        "url": result.status_url,
    }


def _change_password(data: dict[str, Any]) -> str:
    revocations.sandbox_password_change(user=data["user"])
    return _("%(name)s changed their password: older tokens fail with 190/460.") % {"name": data["user"].name}


def _script_failures(data: dict[str, Any]) -> str:
    preset = send_failures.failure_presets()[data["preset"]]
    send_failures.sandbox_send_failures_script(
        page_id=data["page"].page_id,
        http_status=preset.http_status,
        code=preset.code,
        subcode=preset.subcode,
        is_transient=preset.is_transient,
        times=data["times"],
        delay_seconds=preset.delay_seconds,
    )
    return _("The next %(times)s send(s) of %(page)s will fail: %(error)s.") % {
        "times": data["times"],
        "page": data["page"].name,
        "error": preset.label,
    }


def _drop_subscription(data: dict[str, Any]) -> str:
    if revocations.sandbox_subscription_drop(page=data["page"]):
        return _("Facebook dropped the app's subscription to %(page)s, as after an hour of failed deliveries.") % {
            "page": data["page"].name
        }
    return _("The app was not subscribed to %(page)s.") % {"page": data["page"].name}


def _clear_failures(data: dict[str, Any]) -> str:
    data["page"].scripted_failures.all().delete()
    return _("No more scripted failures for %(page)s.") % {"page": data["page"].name}


class _NoFields(forms.Form):
    pass


def _flush(data: dict[str, Any]) -> str:
    return _("%(count)s webhook(s) delivered.") % {"count": webhooks.flush_webhooks()}


def _reset(data: dict[str, Any]) -> str:
    bootstrap.sandbox_reset()
    bootstrap.sandbox_bootstrap()
    return _("The sandbox was reset to its default person, pages and customers.")


tokens_expire = _control(TokensExpireForm, _expire)
permission_revoke = _control(PermissionRevokeForm, _revoke)
app_remove = _control(UserActionForm, _remove_app)
data_deletion_request = _control(UserActionForm, _request_deletion)
password_change = _control(UserActionForm, _change_password)
failures_script = _control(FailureScriptForm, _script_failures)
failures_clear = _control(PageActionForm, _clear_failures)
subscription_drop = _control(PageActionForm, _drop_subscription)
webhooks_flush = _control(_NoFields, _flush)
reset = _control(_NoFields, _reset)
