"""The Facebook Login dialog, sandbox edition: pick a person, grant or decline permissions."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from messenger.sandbox import bootstrap, dialog
from messenger.sandbox.forms import DialogForm
from messenger.sandbox.models import SandboxUser
from messenger.sandbox.views._common import sandbox_only

# The dialog's own parameters travel as hidden fields from the GET to the POST.
DIALOG_PARAMS = ("client_id", "redirect_uri", "state", "scope", "response_type", "config_id")


@sandbox_only
@never_cache
@require_http_methods(["GET", "POST"])
def oauth(request: HttpRequest, version: str) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    params = {key: source.get(key, "") for key in DIALOG_PARAMS}
    try:
        dialog_request = dialog.dialog_request_parse(params)
    except dialog.DialogError as error:
        return render(request, "sandbox/dialog_error.html", {"error": str(error)}, status=400)
    if not SandboxUser.objects.exists():
        bootstrap.sandbox_bootstrap()

    form = DialogForm(request.POST or None, scopes=dialog_request.scopes)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["action"] == "cancel":
            return HttpResponseRedirect(dialog.dialog_cancel_url(request=dialog_request))
        url = dialog.dialog_authorize(
            request=dialog_request, user=form.cleaned_data["user"], granted=form.cleaned_data["permissions"]
        )
        return HttpResponseRedirect(url)
    context = {
        "form": form,
        "params": params,
        "dialog_request": dialog_request,
        "users": SandboxUser.objects.order_by("id"),
        "version": version,
    }
    return render(request, "sandbox/dialog.html", context, status=400 if form.is_bound else 200)
