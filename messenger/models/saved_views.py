"""The inbox's filters kept under a name (SavedView): a member's own, or shared with the whole
organization by an admin."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Membership, Organization


class SavedView(models.Model):
    """Inbox filters kept under a name: a member's own (``owner``), or shared with the whole
    organization by an admin (``owner`` empty). ``params`` are the inbox's query parameters
    (messenger.selectors.filters.ConversationFilters.as_params)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    owner = models.ForeignKey(
        Membership, on_delete=models.CASCADE, null=True, blank=True, related_name="saved_views", db_index=False
    )
    name = models.CharField(_("name"), max_length=60)
    params = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                models.F("organization"),
                models.F("owner"),
                Lower("name"),
                condition=models.Q(owner__isnull=False),
                name="saved_view_personal_name_unique",
            ),
            models.UniqueConstraint(
                models.F("organization"),
                Lower("name"),
                condition=models.Q(owner__isnull=True),
                name="saved_view_shared_name_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name
