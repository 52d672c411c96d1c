"""Meta's data deletion callback for a person who used Facebook Login with the app (an admin
who linked pages): what the product holds about them is erased, the request is recorded
under an unguessable confirmation code, and its status page tells what was done.

What the product holds about such a person is the page tokens their Facebook Login gave and
the record that they authorized those pages (the user token itself is never stored); the
pages they linked need re-authorization afterwards (messenger.pages.authorization).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from django.conf import settings
from django.db import transaction

from messenger.pages.authorization import pages_authorization_forget_person
from privacy.audit import audit_event
from privacy.models import DataDeletionRequest, DeletionState
from privacy.signed_request import signed_request_parse


def _user_hash(user_id: str) -> str:
    # Keyed, so that the stored value cannot be turned back into the id by trying ids.
    return hmac.new(settings.SECRET_KEY.encode(), f"data-deletion:{user_id}".encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def data_deletion_request_handle(*, signed_request: str, now: datetime) -> DataDeletionRequest:
    """Verify Meta's signed request (InvalidSignedRequest: nothing erased), erase, record.
    A second request for the same person is recorded too and erases what is left (nothing)."""
    parsed = signed_request_parse(signed_request, app_secret=settings.FB_APP_SECRET, now=now)
    pages = pages_authorization_forget_person(facebook_user_id=parsed.user_id, now=now)
    request = DataDeletionRequest.objects.create(
        confirmation_code=DataDeletionRequest.new_confirmation_code(),
        user_hash=_user_hash(parsed.user_id),
        state=DeletionState.COMPLETED,
        pages_flagged=sum(1 for row in pages if row["unlinked_at"] is None),
        tokens_erased=len(pages),
        completed_at=now,
    )
    for organization_id in sorted({row["organization_id"] for row in pages}):
        audit_event(
            organization_id=organization_id,
            event="facebook_data_deleted",
            instance=request,
            # Not the confirmation code (the request's own name): it opens the public status page.
            object_repr=f"#{request.pk}",
            detail={"pages": [row["name"] for row in pages if row["organization_id"] == organization_id]},
        )
    return request


def data_deletion_request_get(*, confirmation_code: str) -> DataDeletionRequest | None:
    if not confirmation_code or len(confirmation_code) > 64:
        return None
    return DataDeletionRequest.objects.filter(confirmation_code=confirmation_code).first()
