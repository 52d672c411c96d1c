"""Where a customer came from: Facebook's referral objects read into one shape.

Pure functions (no database), one place for the rule: which part of a webhook item carries
the referral (a `referral` event, a postback's `referral`, or a message's `referral` when the
first message follows a click-to-Messenger ad) and how its source is grouped (ad, m.me link,
chat plugin, other). The webhook stores what this returns (messenger.webhook.referrals); the
inbox and routing read the stored rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext

KIND_AD = "ad"
KIND_LINK = "link"
KIND_PLUGIN = "plugin"
KIND_OTHER = "other"

# Facebook's `source` values, grouped.
_AD_SOURCES = frozenset({"ADS"})
_LINK_SOURCES = frozenset({"SHORTLINK"})
_PLUGIN_SOURCES = frozenset({"CUSTOMER_CHAT_PLUGIN"})

MAX_REF = 250
MAX_TITLE = 250
MAX_URI = 1000


@dataclass(frozen=True, slots=True)
class Referral:
    kind: str
    source: str = ""
    referral_type: str = ""
    ref: str = ""
    ad_id: str = ""
    ad_title: str = ""
    referer_uri: str = ""


def _text(value: Any, limit: int) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float | str):
        return str(value).strip()[:limit]
    return ""


def referral_kind(*, source: str, ad_id: str) -> str:
    source = source.upper()
    if source in _AD_SOURCES or ad_id:
        return KIND_AD
    if source in _LINK_SOURCES:
        return KIND_LINK
    if source in _PLUGIN_SOURCES:
        return KIND_PLUGIN
    return KIND_OTHER


def referral_parse(referral: Any) -> Referral | None:
    """A referral object as Facebook sends it, or None when it says nothing."""
    if not isinstance(referral, Mapping):
        return None
    ads_context = referral.get("ads_context_data")
    ads_context = ads_context if isinstance(ads_context, Mapping) else {}
    source = _text(referral.get("source"), 40).upper()
    ad_id = _text(referral.get("ad_id"), 64)
    found = Referral(
        kind=referral_kind(source=source, ad_id=ad_id),
        source=source,
        referral_type=_text(referral.get("type"), 40).upper(),
        ref=_text(referral.get("ref"), MAX_REF),
        ad_id=ad_id,
        ad_title=_text(ads_context.get("ad_title"), MAX_TITLE),
        referer_uri=_text(referral.get("referer_uri"), MAX_URI),
    )
    if not (found.source or found.ref or found.ad_id or found.referer_uri):
        return None
    return found


def referral_in_item(item: Any) -> Referral | None:
    """The referral a `messaging` item carries: its own (`referral` event), its postback's, or
    its message's (the first message after a click-to-Messenger ad)."""
    if not isinstance(item, Mapping):
        return None
    for holder in (item, item.get("postback"), item.get("message")):
        if isinstance(holder, Mapping) and "referral" in holder:
            found = referral_parse(holder.get("referral"))
            if found is not None:
                return found
    return None


def referral_text(
    *, kind: str, ref: str = "", ad_id: str = "", ad_title: str = "", referer_uri: str = "", source: str = ""
) -> str:
    """What the conversation's card says, in the active language (stored as codes, shown as words)."""
    if kind == KIND_AD:
        if ad_title:
            return gettext("Came from the ad “%(title)s”") % {"title": ad_title}
        if ad_id:
            return gettext("Came from an ad (ID %(ad_id)s)") % {"ad_id": ad_id}
        return gettext("Came from an ad")
    if kind == KIND_LINK:
        if ref:
            return gettext("Came from the link ref=%(ref)s") % {"ref": ref}
        return gettext("Came from an m.me link")
    if kind == KIND_PLUGIN:
        if referer_uri:
            return gettext("Came from the chat plugin on %(address)s") % {"address": referer_uri}
        return gettext("Came from the chat plugin")
    if source:
        return gettext("Came from %(source)s") % {"source": source}
    return gettext("Came from a referral")


def referral_attachment_text(attachment: Mapping[str, Any]) -> str:
    """The sentence for a referral event kept as its message's attachment
    (messenger.webhook.payload.referral_attachment), as the transcript shows it."""
    source = _text(attachment.get("source"), 40).upper()
    ad_id = _text(attachment.get("ad_id"), 64)
    return referral_text(
        kind=referral_kind(source=source, ad_id=ad_id),
        ref=_text(attachment.get("ref"), MAX_REF),
        ad_id=ad_id,
        referer_uri=_text(attachment.get("referer_uri"), MAX_URI),
        source=source,
    )
