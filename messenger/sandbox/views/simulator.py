"""The customer simulator: write to a sandbox page as a Messenger user would."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from helpdesk.files import file_response
from messenger.sandbox import customers, images, selectors, webhooks
from messenger.sandbox.forms import CustomerCreateForm, CustomerReadForm, CustomerReferralForm, CustomerSendForm
from messenger.sandbox.models import SandboxCustomer, SandboxPage, SandboxUpload
from messenger.sandbox.views._common import is_htmx, sandbox_only


def _page_or_404(page_id: str) -> SandboxPage:
    page = selectors.page_get(page_id=page_id)
    if page is None:
        raise Http404
    return page


def _customer_or_404(page: SandboxPage, psid: str | None) -> SandboxCustomer:
    customer = page.customers.filter(psid=psid).first() if psid else None
    if customer is None:
        raise Http404
    return customer


def _simulator_url(page: SandboxPage, psid: str) -> str:
    return reverse("sandbox:simulator", kwargs={"page_id": page.page_id}) + "?" + urlencode({"psid": psid})


def _thread_response(request: HttpRequest, page: SandboxPage, customer: SandboxCustomer) -> HttpResponse:
    context = {"page": page, "customer": customer, "thread": selectors.customer_thread(customer=customer)}
    return render(request, "sandbox/_thread.html", context)


@sandbox_only
@require_GET
def simulator(request: HttpRequest, page_id: str) -> HttpResponse:
    page = _page_or_404(page_id)
    page_customers = selectors.page_customers(page=page)
    psid = request.GET.get("psid")
    customer = next((c for c in page_customers if c.psid == psid), None)
    if customer is None and page_customers:
        return redirect(_simulator_url(page, page_customers[0].psid))
    context = {
        "page": page,
        "customers": page_customers,
        "customer": customer,
        "pages": SandboxPage.objects.order_by("page_id"),
        "create_form": CustomerCreateForm(),
        "send_form": CustomerSendForm(initial={"psid": psid}),
        "referral_form": CustomerReferralForm(initial={"psid": psid}),
        "subscription": getattr(page, "subscription", None),
    }
    return render(request, "sandbox/simulator.html", context)


@sandbox_only
@never_cache
@require_GET
def simulator_thread(request: HttpRequest, page_id: str) -> HttpResponse:
    """The polled thread; each poll also sends the webhooks owed to the product."""
    page = _page_or_404(page_id)
    customer = _customer_or_404(page, request.GET.get("psid"))
    webhooks.flush_webhooks()
    return _thread_response(request, page, customer)


def _attachment(request: HttpRequest, kind: str) -> list[dict[str, Any]]:
    if kind == "file":
        file_url = request.build_absolute_uri(reverse("sandbox:cdn_file", kwargs={"name": SAMPLE_FILE_NAME}))
        return [{"type": "file", "payload": {"url": f"{file_url}?_nc_cat=101&oh=sandbox"}}]
    url = request.build_absolute_uri(
        reverse("sandbox:cdn_image", kwargs={"kind": "like" if kind == "like" else "photo"})
    )
    payload: dict[str, Any] = {"url": url}
    if kind == "like":
        payload["sticker_id"] = customers.LIKE_STICKER_ID
    return [{"type": "image", "payload": payload}]


@sandbox_only
@require_POST
def simulator_send(request: HttpRequest, page_id: str) -> HttpResponse:
    page = _page_or_404(page_id)
    form = CustomerSendForm(request.POST)
    if not form.is_valid():
        customer = _customer_or_404(page, request.POST.get("psid"))
        if is_htmx(request):
            return _thread_response(request, page, customer)
        return redirect(_simulator_url(page, customer.psid))
    customer = _customer_or_404(page, form.cleaned_data["psid"])
    kind = form.cleaned_data["kind"]
    result = customers.sandbox_customer_message(
        page_id=page.page_id,
        psid=customer.psid,
        text=form.cleaned_data["text"] if kind == "text" else None,
        attachments=None if kind == "text" else _attachment(request, kind),
    )
    status = result["status"]
    if not 200 <= status < 300:
        messages.warning(request, _("The product's webhook answered %(status)s.") % {"status": status or _("nothing")})
    if is_htmx(request):
        return _thread_response(request, page, customer)
    return redirect(_simulator_url(page, customer.psid))


@sandbox_only
@require_POST
def simulator_read(request: HttpRequest, page_id: str) -> HttpResponse:
    page = _page_or_404(page_id)
    form = CustomerReadForm(request.POST)
    customer = _customer_or_404(page, form.data.get("psid"))
    customers.sandbox_customer_read(page_id=page.page_id, psid=customer.psid)
    if is_htmx(request):
        return _thread_response(request, page, customer)
    return redirect(_simulator_url(page, customer.psid))


@sandbox_only
@require_POST
def simulator_referral(request: HttpRequest, page_id: str) -> HttpResponse:
    """The customer arrives from an m.me link, an ad or the chat plugin (a referral webhook)."""
    page = _page_or_404(page_id)
    form = CustomerReferralForm(request.POST)
    customer = _customer_or_404(page, form.data.get("psid"))
    if form.is_valid():
        result = customers.sandbox_customer_referral(
            page_id=page.page_id,
            psid=customer.psid,
            source=form.cleaned_data["source"],
            ref=form.cleaned_data["ref"],
            ad_id=form.cleaned_data["ad_id"] or ("120200000000001" if form.cleaned_data["source"] == "ADS" else ""),
            ad_title=form.cleaned_data["ad_title"],
            referer_uri="https://shop.example.com/" if form.cleaned_data["source"] == "CUSTOMER_CHAT_PLUGIN" else "",
            postback=form.cleaned_data["postback"],
        )
        status = result["status"]
        if not 200 <= status < 300:
            messages.warning(
                request, _("The product's webhook answered %(status)s.") % {"status": status or _("nothing")}
            )
    return redirect(_simulator_url(page, customer.psid))


@sandbox_only
@require_POST
def simulator_customer_create(request: HttpRequest, page_id: str) -> HttpResponse:
    page = _page_or_404(page_id)
    form = CustomerCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(str(error) for errors in form.errors.values() for error in errors))
        return redirect("sandbox:simulator", page_id=page.page_id)
    customer = customers.sandbox_customer_create(
        page_id=page.page_id,
        first_name=form.cleaned_data["first_name"],
        last_name=form.cleaned_data["last_name"],
        has_profile=form.cleaned_data["has_profile"],
    )
    return redirect(_simulator_url(page, customer.psid))


@sandbox_only
@require_GET
def profile_pic(request: HttpRequest, psid: str) -> HttpResponse:
    customer = SandboxCustomer.objects.filter(psid=psid).first()
    if customer is None:
        raise Http404
    initials = (customer.first_name[:1] + customer.last_name[:1]) or "?"
    response = HttpResponse(images.avatar_png(psid, initials), content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400"
    return response


# A file as a customer would send one: served by the sandbox like Facebook's CDN does.
SAMPLE_FILE_NAME = "order-receipt.txt"
SAMPLE_FILE_TEXT = "Order 20260042\nThree blue notebooks, 12.30 EUR\nPaid by card.\n"


@sandbox_only
@require_GET
def cdn_file(request: HttpRequest, name: str) -> HttpResponse:
    if name != SAMPLE_FILE_NAME:
        raise Http404
    response = HttpResponse(SAMPLE_FILE_TEXT.encode(), content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@sandbox_only
@require_GET
def cdn_image(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in ("photo", "like"):
        raise Http404
    response = HttpResponse(images.attachment_png(kind), content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@sandbox_only
@require_GET
def upload_file(request: HttpRequest, attachment_id: str) -> FileResponse:
    """A file the page uploaded, as Facebook's CDN serves it to the customer (the bytes the
    sandbox received, never fetched from the product)."""
    upload = SandboxUpload.objects.filter(attachment_id=attachment_id).first()
    if upload is None:
        raise Http404
    return file_response(io.BytesIO(bytes(upload.data)), file_name=upload.file_name or "file")
