"""What privacy tells the apps above it (they connect in their AppConfig.ready)."""

from __future__ import annotations

from django.dispatch import Signal

# A contact's data was erased (privacy.contact_data.contact_erase), inside its transaction:
# sent with organization_id and contact_id; a receiver erases what its app holds about them.
contact_erased = Signal()
