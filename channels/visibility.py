"""Who sees what: the one visibility rule for everything filed under a channel.

- An admin sees everything of their organization.
- An agent sees what is filed under a channel when BOTH hold: they are associated with the
  channel (`channels.AgentChannel`) AND they work in the channel's department
  (`channel.department` is one of `membership.departments`). An association alone (say,
  left behind when the agent was moved out of the department) shows nothing; nor does
  working in the department without the association.
- An inactive membership, or a membership of another organization, sees nothing.

Deleted channels count like the others: their conversations stay readable to their agents.

What hangs off a channel is seen through it:

- conversations: through their channel (`visible_filter()`);
- messages, and so their attachments: through their conversation's channel
  (`visible_filter(prefix="conversation__")`);
- contacts: when one of their conversations is visible (`messenger.selectors.visibility`);
- tickets: through the ticket's channel AND the ticket's own department, which must be one
  the agent works in (`visible_filter(row_department=True)`). A ticket keeps the department
  it was made in when its channel later moves to another one (channels.services
  .channel_update); from then on it is shown only to the agents of the channel who work in
  both departments (and to admins), never to the old department's agents alone.

The same rule read the other way round (who may see a channel's conversations: who may hold
them) is `members_filter()`. Every form is a condition on the row's own columns with
subqueries: no query of its own, none per row, so it never changes a page's query count.
On PostgreSQL the subquery of an agent's channels is read once, ahead of the rows (`= ANY(ARRAY(…))`,
an InitPlan), and each row is checked against that short list, not joined to it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import BigIntegerField, F, ForeignKey, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.lookups import In

from channels.models import AgentChannel, Channel
from helpdesk.models import Membership, Organization, Role

# Matches no row; Django answers a queryset filtered by it without asking the database.
NOTHING = Q(pk__in=[])


@ForeignKey.register_lookup
class AmongLookup(In):
    """`channel_id__among=<subquery>`: IN, except that PostgreSQL reads the (uncorrelated, short)
    subquery once as an array and checks each row against it. Planned as a semi-join, the same
    rule cost the inbox's list a join filter per conversation row scanned (a label's filter
    reads thousands of rows to find a page of 25)."""

    lookup_name = "among"

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if not rhs.startswith("("):  # a list of values: IN as usual
            return self.as_sql(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", [*lhs_params, *rhs_params]


def _counted_links(organization: Organization) -> QuerySet[AgentChannel]:
    """The associations that count: those whose agent works in the channel's department."""
    return AgentChannel.objects.filter(organization=organization, membership__departments=F("channel__department"))


def _counted_channel_ids(*, organization: Organization, membership: Membership) -> RawSQL:
    """The channels of the member's counted associations (`_counted_links`), as the subquery
    every filter of the rule embeds. The same SQL as the queryset's, written once: Django took
    longer to build and compile that queryset (four tables) than the database to run it, and
    every list, count and page asks the rule, often several times per request."""
    params = [organization.pk, membership.pk]
    return RawSQL(_COUNTED_CHANNEL_IDS_SQL, params, output_field=BigIntegerField())  # noqa: S611 (constant SQL)


_COUNTED_CHANNEL_IDS_SQL = (
    f"SELECT l.channel_id FROM {AgentChannel._meta.db_table} l "  # noqa: S608 (the models' table names)
    f"JOIN {Channel._meta.db_table} c ON c.id = l.channel_id "
    f"JOIN {Membership.departments.through._meta.db_table} d "
    "ON d.membership_id = l.membership_id AND d.department_id = c.department_id "
    "WHERE l.organization_id = %s AND l.membership_id = %s"
)


def _sees_nothing(*, organization: Organization, membership: Membership) -> bool:
    return membership.organization_id != organization.pk or not membership.is_active


def member_department_ids(membership: Membership) -> QuerySet[Any, Any]:
    """The departments the member works in, as a subquery of department ids."""
    return Membership.departments.through.objects.filter(membership_id=membership.pk).values("department_id")


def visible_channel_ids(*, organization: Organization, membership: Membership) -> QuerySet[Any, Any] | None:
    """None for an admin (every channel of the organization); otherwise a subquery of the ids
    of the channels the agent sees (empty for an inactive or foreign membership), to read
    (``visible_channel_id_filter`` is the same as a filter, cheaper to build)."""
    if _sees_nothing(organization=organization, membership=membership):
        return AgentChannel.objects.none().values("channel_id")
    if membership.role == Role.ADMIN:
        return None
    return _counted_links(organization).filter(membership=membership).values("channel_id")


def visible_channel_id_filter(*, organization: Organization, membership: Membership, field: str = "channel_id") -> Q:
    """The rule as a filter on a model whose ``field`` holds a channel's id (no foreign key):
    ``visible_channel_ids`` as a condition. It names channels only: the caller scopes the rows
    to the organization (an admin's condition is empty)."""
    if _sees_nothing(organization=organization, membership=membership):
        return NOTHING
    if membership.role == Role.ADMIN:
        return Q()
    return Q(**{f"{field}__in": _counted_channel_ids(organization=organization, membership=membership)})


def visible_filter(
    *, organization: Organization, membership: Membership, prefix: str = "", row_department: bool = False
) -> Q:
    """The rule as a filter on a model with `organization` and `channel` fields, reached
    through `prefix` ("" for conversations and tickets, "conversation__" for messages).
    `row_department`: the row's own `department` must also be one the agent works in (tickets)."""
    if _sees_nothing(organization=organization, membership=membership):
        return NOTHING
    condition = Q(**{f"{prefix}organization": organization})
    if membership.role == Role.ADMIN:
        return condition
    channel_ids = _counted_channel_ids(organization=organization, membership=membership)
    condition &= Q(**{f"{prefix}channel__among": channel_ids})
    if row_department:
        condition &= Q(**{f"{prefix}department__among": member_department_ids(membership)})
    return condition


def visible_channel_list(*, organization: Organization, membership: Membership) -> QuerySet[Channel]:
    """The channels (deleted ones included) whose conversations the member sees."""
    return Channel.objects.filter(organization=organization).filter(
        visible_channel_id_filter(organization=organization, membership=membership, field="pk")
    )


def members_filter(*, organization: Organization, channel_id: int, department_id: int | None = None) -> Q:
    """The rule the other way round, as a filter on Membership: the active members who see
    what is filed under this channel (admins, and its counted agents). With `department_id`
    (a ticket's own department), agents must also work in that department."""
    agents = Q(pk__in=_counted_links(organization).filter(channel_id=channel_id).values("membership_id"))
    if department_id is not None:
        agents &= Q(
            pk__in=Membership.departments.through.objects.filter(department_id=department_id).values("membership_id")
        )
    return Q(organization=organization, is_active=True) & (Q(role=Role.ADMIN) | agents)
