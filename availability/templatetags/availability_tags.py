"""Template tags of availability for the pages of the layer below (members, member edit):

{% load availability_tags %}
{% member_availabilities members as availabilities %}     one query for the whole list
{% member_availability_cell member availabilities %}      dot, label, since; "Set offline"
{% member_capacity_form member %}                         the member edit page's capacity form
"""

from __future__ import annotations

from typing import Any

from django import template

from availability import selectors
from availability.forms import CapacityForm
from availability.models import Availability, Status

register = template.Library()


@register.simple_tag(takes_context=True)
def member_availabilities(context: template.Context, members: Any) -> dict[int, Availability]:
    organization = getattr(context.get("request"), "organization", None)
    if organization is None:
        return {}
    return selectors.availabilities_by_member(organization=organization, membership_ids=[m.pk for m in members])


@register.inclusion_tag("availability/_member_status.html", takes_context=True)
def member_availability_cell(
    context: template.Context, member: Any, availabilities: dict[int, Availability]
) -> dict[str, Any]:
    availability = availabilities.get(member.pk) or selectors.availability_of_member_unrecorded(member)
    return {
        "member": member,
        "availability": availability,
        "can_set_offline": member.is_active and availability.status != Status.OFFLINE,
        "organization": context.get("organization"),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("availability/_capacity_form.html", takes_context=True)
def member_capacity_form(context: template.Context, member: Any) -> dict[str, Any]:
    availability = selectors.availability_of(membership=member)
    return {
        "member": member,
        "form": CapacityForm(initial={"capacity": availability.capacity}),
        "default_capacity": selectors.default_capacity_of(organization=member.organization),
        "organization": context.get("organization"),
        "csrf_token": context.get("csrf_token"),
    }
