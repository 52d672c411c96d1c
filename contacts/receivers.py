"""What the contacts app does when apps below it signal."""

from __future__ import annotations

from typing import Any

from contacts.models import ContactNote


def contact_erased(sender: Any, *, organization_id: int, contact_id: int, **kwargs: Any) -> None:
    """A contact's data was erased (privacy): the members' notes about them go too (they
    describe the customer), in the erasure's transaction."""
    ContactNote.objects.filter(organization_id=organization_id, contact_id=contact_id).delete()
