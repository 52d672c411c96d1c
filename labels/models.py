"""Labels: an organization's own words for sorting its work ("refund", "VIP"), each with a
colour, put on conversations (messenger.ConversationLabel) and tickets (tickets.TicketLabel)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Organization

NAME_MAX_LENGTH = 50


class LabelColor(models.TextChoices):
    """A palette rather than any hex: each colour has a text colour that keeps its contrast
    (labels.css), and a colour-blind reader still has the name."""

    GRAY = "gray", _("Gray")
    RED = "red", _("Red")
    ORANGE = "orange", _("Orange")
    YELLOW = "yellow", _("Yellow")
    GREEN = "green", _("Green")
    TEAL = "teal", _("Teal")
    BLUE = "blue", _("Blue")
    INDIGO = "indigo", _("Indigo")
    PURPLE = "purple", _("Purple")
    PINK = "pink", _("Pink")


class Label(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH)
    color = models.CharField(_("colour"), max_length=10, choices=LabelColor.choices, default=LabelColor.BLUE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # "Refund" and "refund" are one label (409 label_name_taken).
            models.UniqueConstraint(models.F("organization"), Lower("name"), name="label_name_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.name
