from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from helpdesk.forms import StyledForm
from messenger.sandbox.models import SandboxPage, SandboxUser
from messenger.sandbox.people import KNOWN_PERMISSIONS
from messenger.sandbox.send_failures import failure_presets


def _user_field(*, required: bool = True) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        label=_("Facebook person"), queryset=SandboxUser.objects.all(), to_field_name="facebook_id", required=required
    )


def _page_field(*, required: bool = True) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        label=_("Page"), queryset=SandboxPage.objects.all(), to_field_name="page_id", required=required
    )


class DialogForm(StyledForm):
    """The login dialog: who logs in, and which of the requested permissions they grant."""

    user = _user_field()
    permissions = forms.MultipleChoiceField(label=_("Permissions"), required=False, widget=forms.CheckboxSelectMultiple)
    action = forms.ChoiceField(choices=[("continue", _("Continue")), ("cancel", _("Cancel"))])

    def __init__(self, *args: Any, scopes: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.MultipleChoiceField, self.fields["permissions"]).choices = [(scope, scope) for scope in scopes]
        self.fields["permissions"].initial = list(scopes)


class UserActionForm(StyledForm):
    user = _user_field()


class PermissionRevokeForm(StyledForm):
    user = _user_field()
    permission = forms.ChoiceField(label=_("Permission"), choices=[(p, p) for p in KNOWN_PERMISSIONS])


class TokensExpireForm(StyledForm):
    user = _user_field(required=False)
    page = _page_field(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("user") and not cleaned.get("page"):
            raise forms.ValidationError(_("Choose a person or a page."))
        return cleaned


class FailureScriptForm(StyledForm):
    page = _page_field()
    preset = forms.ChoiceField(label=_("Error"), choices=[])
    times = forms.IntegerField(label=_("Next N sends"), min_value=1, max_value=100, initial=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["preset"]).choices = [
            (key, preset.label) for key, preset in failure_presets().items()
        ]


class PageActionForm(StyledForm):
    page = _page_field()


class CustomerCreateForm(StyledForm):
    # Both may be empty (a profile without a name), or a placeholder such as "John Doe".
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    has_profile = forms.BooleanField(label=_("Profile visible to the page"), required=False, initial=True)


class CustomerSendForm(StyledForm):
    KINDS = [("text", _("Text")), ("image", _("Image")), ("file", _("File")), ("like", _("Like"))]

    psid = forms.CharField(max_length=32, widget=forms.HiddenInput)
    # Set by the button pressed: "Send", "Send an image", "Send a file" or "Send a like".
    kind = forms.ChoiceField(choices=KINDS, initial="text")
    text = forms.CharField(label=_("Message"), max_length=2000, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("kind") == "text" and not (cleaned.get("text") or "").strip():
            raise forms.ValidationError(_("Type a message."))
        return cleaned


class CustomerReferralForm(StyledForm):
    SOURCES = [("SHORTLINK", _("m.me link")), ("ADS", _("Ad")), ("CUSTOMER_CHAT_PLUGIN", _("Chat plugin"))]

    psid = forms.CharField(max_length=32, widget=forms.HiddenInput)
    source = forms.ChoiceField(label=_("Came from"), choices=SOURCES, initial="SHORTLINK")
    ref = forms.CharField(label=_("ref"), max_length=250, required=False)
    ad_id = forms.CharField(label=_("Ad ID"), max_length=64, required=False)
    ad_title = forms.CharField(label=_("Ad title"), max_length=250, required=False)
    postback = forms.BooleanField(label=_("As a Get Started postback"), required=False)


class CustomerReadForm(StyledForm):
    psid = forms.CharField(max_length=32, widget=forms.HiddenInput)
