from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest

from availability import selectors
from availability.models import Availability, Status


def availability(request: HttpRequest) -> dict[str, Any]:
    """`my_availability`: the signed-in member's availability for the header, read only when a
    template asks for it (once per request); `availability_statuses`: the statuses to choose from."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}

    @functools.cache
    def mine() -> Availability:
        # helpdesk.tenancy read it with the membership (select_related): no query here.
        return selectors.availability_of_member(membership)

    return {"my_availability": mine, "availability_statuses": Status.choices}
