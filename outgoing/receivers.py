"""What outgoing does when lower apps signal (helpdesk.signals.domain_events): writes the
events to the outbox in the transaction of the change."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from outgoing import services

logger = logging.getLogger(__name__)


def domain_events(
    sender: Any,
    *,
    organization_id: int,
    type: str,
    resource: str,
    subjects: list[tuple[int, int | None]],
    **kwargs: Any,
) -> None:
    # The change itself never fails because its webhook could not be written (own savepoint,
    # taken only when an endpoint wants the event: one query otherwise).
    try:
        endpoint_ids = services.endpoints_wanting(organization_id=organization_id, type=type)
        if endpoint_ids:
            with transaction.atomic():
                services.events_record(
                    organization_id=organization_id,
                    type=type,
                    resource=resource,
                    subjects=subjects,
                    endpoint_ids=endpoint_ids,
                )
    except Exception:
        logger.exception("could not write the %s webhook events of organization %s", type, organization_id)
