"""{% inbox_filters %}: the inbox's filter form (messenger/inbox/_filters.html), rendered once
per content and kept in the cache, as the list's rows are (messenger.views.conversation_list).

The form is the costliest part of the inbox page to render (its menus of channels, states,
labels, origins and sorts) and is the same at every load with the same filters. Its key is
everything it shows: the template, the language, the organization, the filters, the member's
channels and the organization's labels. Without the cache (Redis down) it is rendered, as
before.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from django import template
from django.core.cache import cache
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from messenger.views.polling import digest

logger = logging.getLogger(__name__)
register = template.Library()

TEMPLATE = "messenger/inbox/_filters.html"
CACHE_SECONDS = 10 * 60


@lru_cache(maxsize=1)
def _template_digest() -> str:
    # The Django backend's template wraps the engine's; the stubs know only the backend-neutral type.
    return digest(get_template(TEMPLATE).template.source)  # type: ignore[attr-defined]


@register.simple_tag(takes_context=True)
def inbox_filters(context: template.Context) -> SafeString:
    shown: dict[str, Any] = {
        "organization": context["organization"],
        "filters": context["filters"],
        "channels": list(context.get("channels") or ()),
        "filter_labels": list(context.get("filter_labels") or ()),
        "sort_choices": [(value, str(label)) for value, label in context.get("sort_choices") or ()],
    }
    key = "inbox-filters:" + digest(
        [
            _template_digest(),
            get_language(),
            shown["organization"].slug,
            repr(shown["filters"]),
            [(channel.pk, channel.name, channel.deleted_at is not None) for channel in shown["channels"]],
            [(label.pk, label.name, label.color) for label in shown["filter_labels"]],
            shown["sort_choices"],
        ]
    )
    try:
        html = cache.get(key)
    except Exception:  # the cache backend's own connection errors
        logger.warning("inbox: the cache is unavailable, rendering the filters", exc_info=True)
        return mark_safe(get_template(TEMPLATE).render(shown))  # noqa: S308 (the template escapes)
    if html is None:
        html = get_template(TEMPLATE).render(shown)
        try:
            cache.set(key, html, CACHE_SECONDS)
        except Exception:
            logger.warning("inbox: the cache is unavailable, the filters not kept", exc_info=True)
    # Rendered (and escaped) by the template above; the cache is the server's own.
    return mark_safe(html)  # noqa: S308
