"""Set-based persistence of webhook events: a number of statements that does not grow with
the batch, all in one transaction, committed before Facebook gets its 200.

`webhook_receive` is what the receiver calls:

- a batch of messages (and events ignored as parsed), on PostgreSQL: one statement routes,
  stores and logs it all, when every message's conversation exists already — the common
  case (messenger.webhook.fastpath);
- anything else: one read routes the batch and finds the customers' conversations
  (`snapshot_read`), then one transaction applies it (`plan_apply`): new contacts and
  conversations (INSERT … ON CONFLICT DO NOTHING RETURNING), own echoes reconciled, the
  messages (the same INSERT), one UPDATE for all touched conversations, reactions and edits
  (a locked read and one UPDATE), one UPDATE per receipt, and the event log (one INSERT).

Conversations are updated relative to the locked row (latest message wins, unread counts
add up), messages inserted in (page, mid) order, so that concurrent POSTs about the same
customers queue instead of losing updates or deadlocking. The hot statements are plain SQL
(messenger.webhook.sql): the ORM's query compilation costs more than the database here.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation

from channels.models import Channel
from helpdesk.models import Organization
from messenger.models import (
    Contact,
    Conversation,
    ConversationEvent,
    ConversationState,
    Direction,
    FacebookPage,
    Message,
    MessageKind,
    MessageSource,
    MessageStatus,
    WebhookEvent,
    WebhookOutcome,
)
from messenger.previews import message_preview
from messenger.services.attachments.caps import attachments_cap, attachments_over_delivery_cap, downloadable_message_ids
from messenger.services.contacts import contact_fallback_name
from messenger.services.search import message_search_texts_refresh
from messenger.webhook import fastpath, parsing
from messenger.webhook.followups import attachments_enqueue, followups_enqueue
from messenger.webhook.parsing import Content, Edit, ParsedEvent, Reaction, Receipt
from messenger.webhook.sql import column, column_of, connection_for, execute_prepared, insert_rows, table

logger = logging.getLogger(__name__)

# Routing and application reasons (WebhookEvent.reason), besides those of `parsing`.
REASON_UNKNOWN_PAGE = "unknown_page"
REASON_CHANNEL_DISABLED = "channel_disabled"
REASON_CHANNEL_DELETED = "channel_deleted"
REASON_UNKNOWN_MESSAGE = "unknown_message"
REASON_NOTHING_TO_UPDATE = "nothing_to_update"
REASON_CONTACT_BLOCKED = "contact_blocked"
REASON_STANDBY = "standby"
# Stored, but some of its files are over the caps of a message or a POST and are not kept.
REASON_ATTACHMENTS_NOT_KEPT = "attachments_not_kept"
REASON_GAVE_UP = "gave_up"

# Events kept as pending are retried by the periodic job from this age on...
PENDING_RETRY_AFTER = timedelta(seconds=5)
# ...again at most this often when they fail...
PENDING_RETRY_BACKOFF = timedelta(minutes=5)
# ...and are marked failed (still kept, for an admin to see) when they keep failing this long.
PENDING_GIVE_UP_AFTER = timedelta(hours=24)

# Customer-originated kinds that count as "the customer wrote": unread, reply window, reopening.
_CUSTOMER_WROTE = frozenset({MessageKind.TEXT, MessageKind.ATTACHMENT, MessageKind.STICKER, MessageKind.POSTBACK})
_CREATING_KINDS = frozenset({parsing.MESSAGE, parsing.POSTBACK, parsing.REFERRAL, parsing.OPTIN})
_ADVANCE_TO_SENT = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.FAILED)
# The place of a message row's event in its POST (not a column).
_ORDER = "_order"


@dataclass(slots=True)
class Outcome:
    outcome: str = WebhookOutcome.PENDING
    reason: str = ""
    organization_id: int | None = None

    def set(self, outcome: str, reason: str = "") -> None:
        self.outcome, self.reason = outcome, reason


@dataclass
class BatchResult:
    """What became of each event (aligned with the input) and what to do after commit."""

    outcomes: list[Outcome]
    new_contact_ids: list[int] = field(default_factory=list)
    announce_conversation_ids: list[int] = field(default_factory=list)
    # Messages inserted with a file to keep in our storage (messenger.services.attachments).
    download_message_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Route:
    """Where a page's events go: its linking, channel, department and organization."""

    page_pk: int
    page_id: str
    organization_id: int
    channel_id: int
    department_id: int
    channel_enabled: bool
    channel_deleted: bool
    language: str


@dataclass(slots=True)
class Thread:
    """A customer's contact and conversation on one page (no conversation yet: None)."""

    contact_id: int
    page_pk: int
    psid: str
    is_blocked: bool
    conversation_id: int | None


@dataclass(slots=True)
class _Live:
    """An event routed to a live channel."""

    index: int
    event: ParsedEvent
    route: Route


# --------------------------------------------------------------------------- the entry point


def webhook_receive(*, body: Any, received_at: datetime) -> BatchResult:
    """Store every event of a verified POST; returns once they are committed.

    Raises a DatabaseError when nothing could be stored (the receiver answers 503 and
    Facebook delivers again). When applying the batch fails for any other reason the
    raw events are still committed, as pending, for the periodic job to retry.
    """
    events = parsing.parse_body(body, received_at=received_at)
    if _one_statement_applies(events):
        try:
            result = _store_in_one_statement(events, received_at=received_at)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("webhook: the one-statement path failed; applying the batch step by step")
            result = None
        if result is not None:
            return result
    plan = batch_plan(events, snapshot_read(events))
    try:
        with transaction.atomic():
            result = plan_apply(plan, received_at=received_at)
            _events_record(events, result.outcomes, received_at=received_at)
            _followups_on_commit(result)
        return result
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("webhook: applying %d event(s) failed; keeping them as pending", len(events))
    outcomes = [Outcome(organization_id=outcome.organization_id) for outcome in plan.outcomes]
    with transaction.atomic():
        _events_record(events, outcomes, received_at=received_at)
    return BatchResult(outcomes)


def events_apply(events: Sequence[ParsedEvent], *, received_at: datetime) -> BatchResult:
    """Apply parsed events (the retry of pending ones). Runs inside the caller's transaction."""
    return plan_apply(batch_plan(events, snapshot_read(events)), received_at=received_at)


def _followups_on_commit(result: BatchResult) -> None:
    if result.download_message_ids:
        transaction.on_commit(partial(attachments_enqueue, message_ids=list(result.download_message_ids)), robust=True)
    if result.new_contact_ids or result.announce_conversation_ids:
        transaction.on_commit(
            partial(
                followups_enqueue,
                contact_ids=list(result.new_contact_ids),
                conversation_ids=list(result.announce_conversation_ids),
            ),
            robust=True,
        )


# The outcomes whose log row says "standby" when nothing else is to be said.
_STANDBY_LOGGED = (WebhookOutcome.STORED, WebhookOutcome.DUPLICATE, WebhookOutcome.PENDING)


def _logged_reason(event: ParsedEvent, outcome: Outcome) -> str:
    """The event log's reason. A pending event that came in standby says so: its retry
    parses it again as a standby event (`_pending_was_standby`)."""
    if event.standby and not outcome.reason and outcome.outcome in _STANDBY_LOGGED:
        return REASON_STANDBY
    return outcome.reason[:60]


def _pending_reason(*, standby: bool, error: str) -> str:
    """A pending event's reason after a failed retry: its error, and whether it came in standby."""
    return (f"{REASON_STANDBY} " if standby else "") + f"error:{error}"[:40]


def _pending_was_standby(reason: str) -> bool:
    return reason.split(" ", 1)[0] == REASON_STANDBY


def _event_row(
    event: ParsedEvent, outcome: Outcome, *, received_at: datetime, processed_at: datetime
) -> dict[str, Any]:
    reason = _logged_reason(event, outcome)
    return {
        "organization_id": outcome.organization_id,
        "page_id": event.page_id[:40],
        "kind": event.kind[:30],
        "mid": event.mid[:255],
        # A JSON null item cannot be stored as such in a NOT NULL column: kept wrapped.
        "payload": event.payload if event.payload is not None else {"value": None},
        "outcome": outcome.outcome,
        "reason": reason[:60],
        "received_at": received_at,
        "processed_at": None if outcome.outcome == WebhookOutcome.PENDING else processed_at,
    }


def _events_record(events: Sequence[ParsedEvent], outcomes: Sequence[Outcome], *, received_at: datetime) -> None:
    processed_at = timezone.now()
    insert_rows(
        WebhookEvent,
        [
            _event_row(event, outcome, received_at=received_at, processed_at=processed_at)
            for event, outcome in zip(events, outcomes, strict=True)
        ],
    )


# --------------------------------------------------------------------------- reading and routing


@dataclass
class Snapshot:
    """What one read tells about a batch: each page's route, each known customer's thread."""

    routes: dict[str, Route]
    threads: dict[tuple[int, str], Thread]


@lru_cache(maxsize=64)
def _snapshot_statement(alias: str, *, postgres: bool, customers: int, pages: int) -> str:
    """The text of `snapshot_read`'s query (for SQLite, per number of customers and pages)."""
    p = {name: column(FacebookPage, name) for name in ("id", "page_id", "organization", "channel", "unlinked_at")}
    ch = {name: column(Channel, name) for name in ("id", "department", "is_enabled", "deleted_at")}
    ct = {name: column(Contact, name) for name in ("id", "page", "psid", "is_blocked")}
    cv = {name: column(Conversation, name) for name in ("id", "page", "contact")}
    org_id, org_language = column(Organization, "id"), column(Organization, "language")
    # Table and column names come from the models; every value is a bound parameter.
    thread_columns = f"ct.{ct['id']}, ct.{ct['psid']}, ct.{ct['is_blocked']}, cv.{cv['id']}"
    conversation_join = (
        f"LEFT JOIN {table(Conversation)} cv ON cv.{cv['page']} = p.{p['id']} AND cv.{cv['contact']} = ct.{ct['id']}"
    )
    routes = (
        f"SELECT p.{p['id']}, p.{p['page_id']}, p.{p['organization']}, p.{p['channel']}, "  # noqa: S608
        f"c.{ch['department']}, c.{ch['is_enabled']}, c.{ch['deleted_at']}, o.{org_language}, {{threads}} "
        f"FROM {table(FacebookPage)} p JOIN {table(Channel)} c ON c.{ch['id']} = p.{p['channel']} "
        f"JOIN {table(Organization)} o ON o.{org_id} = p.{p['organization']} "
    )
    if postgres:
        # Arrays keep the text the same for every batch (prepared once, planned generic), and
        # each (page, customer) pair is looked up by the contact's unique (page, psid) index:
        # never a filter over all of a page's contacts (OFFSET 0 keeps the planner from
        # turning the lookups into a join of the tables).
        return (
            routes.format(threads="t.*") + f"LEFT JOIN LATERAL (SELECT {thread_columns} "  # noqa: S608
            f"FROM unnest(%s::varchar[], %s::varchar[]) AS w (page_id, psid) "
            f"JOIN {table(Contact)} ct ON ct.{ct['page']} = p.{p['id']} AND ct.{ct['psid']} = w.psid "
            f"{conversation_join} WHERE w.page_id = p.{p['page_id']} OFFSET 0) t ON true "
            f"WHERE p.{p['page_id']} = ANY(%s::varchar[]) AND p.{p['unlinked_at']} IS NULL"
        )
    customers_in = f"IN ({', '.join(['%s'] * customers)})" if customers else "IN (NULL)"
    pages_in = f"IN ({', '.join(['%s'] * pages)})"
    return (
        routes.format(threads=thread_columns)
        + f"LEFT JOIN {table(Contact)} ct ON ct.{ct['page']} = p.{p['id']} AND ct.{ct['psid']} {customers_in} "
        f"{conversation_join} WHERE p.{p['page_id']} {pages_in} AND p.{p['unlinked_at']} IS NULL"
    )


def snapshot_read(events: Sequence[ParsedEvent]) -> Snapshot:
    """The linked page (unlinked_at null) of each page id with its channel, and the contact
    and conversation of each customer the events name, in one query (nothing locked)."""
    page_ids = sorted({e.page_id for e in events if e.page_id})
    if not page_ids:
        return Snapshot({}, {})
    pairs = sorted({(e.page_id, e.customer_id) for e in events if e.customer_id and not e.ignored_reason})
    connection = connection_for(FacebookPage)
    if connection.vendor == "postgresql":
        # Arrays keep the text the same for every batch: prepared once per connection.
        statement = _snapshot_statement(connection.alias, postgres=True, customers=0, pages=0)
        params: list[Any] = [[page for page, _ in pairs], [customer for _, customer in pairs], page_ids]
    else:
        customers = sorted({customer for _, customer in pairs})
        statement = _snapshot_statement(connection.alias, postgres=False, customers=len(customers), pages=len(page_ids))
        params = [*customers, *page_ids]
    with connection.cursor() as cursor:
        execute_prepared(connection, cursor, "messenger_webhook_snapshot", statement, params)
        rows = cursor.fetchall()
    routes: dict[str, Route] = {}
    threads: dict[tuple[int, str], Thread] = {}
    for row in rows:
        if row[1] not in routes:
            routes[row[1]] = Route(
                page_pk=row[0],
                page_id=row[1],
                organization_id=row[2],
                channel_id=row[3],
                department_id=row[4],
                channel_enabled=bool(row[5]),
                channel_deleted=row[6] is not None,
                language=row[7],
            )
        if row[8] is not None:
            threads[(row[0], row[9])] = Thread(
                contact_id=row[8], page_pk=row[0], psid=row[9], is_blocked=bool(row[10]), conversation_id=row[11]
            )
    return Snapshot(routes, threads)


@dataclass
class Plan:
    """A batch routed: the outcome decided so far for each event, and the events to apply."""

    events: Sequence[ParsedEvent]
    outcomes: list[Outcome]
    live: list[_Live]
    snapshot: Snapshot


def batch_plan(events: Sequence[ParsedEvent], snapshot: Snapshot) -> Plan:
    outcomes = [Outcome() for _ in events]
    live: list[_Live] = []
    for index, event in enumerate(events):
        route = snapshot.routes.get(event.page_id)
        outcome = outcomes[index]
        outcome.organization_id = route.organization_id if route else None
        if event.ignored_reason:
            outcome.set(WebhookOutcome.IGNORED, event.ignored_reason)
            if event.ignored_reason == parsing.REASON_UNKNOWN_KIND:
                _log_unknown_kind(event)
        elif route is None:
            outcome.set(WebhookOutcome.IGNORED, REASON_UNKNOWN_PAGE)
        elif route.channel_deleted:
            outcome.set(WebhookOutcome.IGNORED, REASON_CHANNEL_DELETED)
        elif not route.channel_enabled:
            outcome.set(WebhookOutcome.IGNORED, REASON_CHANNEL_DISABLED)
        else:
            live.append(_Live(index, event, route))
    # Delivery order is not guaranteed: apply in Facebook's time order.
    live.sort(key=lambda item: (item.event.timestamp_ms, item.index))
    return Plan(events, outcomes, live, snapshot)


def _log_unknown_kind(event: ParsedEvent) -> None:
    logger.warning(
        "webhook: unknown event kind on page %s (keys: %s)", event.page_id, parsing.unknown_keys(event.payload)
    )


def _is_own_echo(event: ParsedEvent) -> bool:
    return isinstance(event.detail, Content) and bool(event.detail.app_id) and event.detail.app_id == settings.FB_APP_ID


def _creates_message(event: ParsedEvent) -> bool:
    return event.kind in _CREATING_KINDS or (event.kind == parsing.ECHO and not _is_own_echo(event))


def plan_apply(plan: Plan, *, received_at: datetime) -> BatchResult:
    """Apply a routed batch, set-based. Runs inside a transaction."""
    outcomes = plan.outcomes
    result = BatchResult(outcomes)
    live = plan.live
    if not live:
        return result
    own_echoes = [i for i in live if i.event.kind == parsing.ECHO and _is_own_echo(i.event)]
    creating = [i for i in live if _creates_message(i.event)]
    if own_echoes:
        unmatched = _own_echoes_reconcile(own_echoes, outcomes)
        if unmatched:
            # Sent by this app but unknown here (another installation, a lost row): shown as
            # sent outside the helpdesk rather than dropped.
            creating = sorted(creating + unmatched, key=lambda item: (item.event.timestamp_ms, item.index))
    if creating:
        _messages_store(creating, plan, outcomes, result, received_at=received_at)
    targeted = [i for i in live if i.event.kind in (parsing.REACTION, parsing.MESSAGE_EDIT)]
    if targeted:
        _targets_update(targeted, outcomes)
    receipts = [i for i in live if i.event.kind in (parsing.DELIVERY, parsing.READ)]
    if receipts:
        _receipts_apply(receipts, outcomes, received_at=received_at)
    return result


# --------------------------------------------------------------------------- the one-statement path


_ONE_STATEMENT_REASONS = fastpath.Reasons(
    unknown_page=REASON_UNKNOWN_PAGE,
    channel_deleted=REASON_CHANNEL_DELETED,
    channel_disabled=REASON_CHANNEL_DISABLED,
    contact_blocked=REASON_CONTACT_BLOCKED,
)


def _one_statement_applies(events: Sequence[ParsedEvent]) -> bool:
    """PostgreSQL, and every event either ignored as parsed or a message to store."""
    if not events or connection_for(Message).vendor != "postgresql":
        return False
    return all(
        event.ignored_reason or (_creates_message(event) and event.customer_id and event.mid) for event in events
    )


def _store_in_one_statement(events: Sequence[ParsedEvent], *, received_at: datetime) -> BatchResult | None:
    """The whole batch in one statement (messenger.webhook.fastpath), or None when a message's
    conversation does not exist yet or the POST has more files than it keeps (nothing was written)."""
    rows: list[dict[str, Any]] = []
    # Of the deliveries of one (page, mid) in this POST, the first in Facebook's time order is
    # the one stored, as batch_plan orders them; the others are duplicates.
    first_delivery: dict[tuple[str, str], int] = {}
    for index in sorted(range(len(events)), key=lambda i: (events[i].timestamp_ms, i)):
        if not events[index].ignored_reason:
            first_delivery.setdefault((events[index].page_id, events[index].mid), index)
    for index, event in enumerate(events):
        row: dict[str, Any] = {
            "page": event.page_id,
            "event_kind": event.kind[:30],
            "mid": event.mid,
            # A JSON null item cannot be stored as such in a NOT NULL column: kept wrapped.
            "payload": event.payload if event.payload is not None else {"value": None},
            "ord": index,
            "stored_reason": REASON_STANDBY if event.standby else "",
        }
        if event.ignored_reason:
            row["outcome"], row["reason"] = WebhookOutcome.IGNORED, event.ignored_reason[:60]
        else:
            row["creates"] = True
            row["customer"] = event.customer_id
            row["again"] = first_delivery[(event.page_id, event.mid)] != index
            values = _message_values(event, received_at=received_at)
            row.update(values)
            previews = _previews(values)
            if len(set(previews.values())) == 1:  # it has text, or reads alike in every language
                row[fastpath.PREVIEW] = next(iter(previews.values()))
            else:
                row[fastpath.PREVIEWS] = previews
        rows.append(row)
    # A repeat of a mid within the POST is a duplicate: it takes no part in the caps.
    message_rows = [row for row in rows if row.get("creates") and not row["again"]]
    if attachments_over_delivery_cap(message_rows):
        # Only the files of messages that are stored count towards the POST's cap, and which
        # are is decided in the statement (a disabled channel's, an unknown page's are not):
        # such a POST, rare, is applied step by step.
        return None
    for row, capped in zip(message_rows, attachments_cap(message_rows), strict=True):
        if capped:
            row["stored_reason"] = REASON_ATTACHMENTS_NOT_KEPT
    now = timezone.now()
    decided = fastpath.store_in_one_statement(
        rows=rows,
        batch_values={"received_at": received_at, "processed_at": now},
        now=now,
        reasons=_ONE_STATEMENT_REASONS,
    )
    if decided is None:
        return None
    for event in events:
        if event.ignored_reason == parsing.REASON_UNKNOWN_KIND:
            _log_unknown_kind(event)
    result = BatchResult([Outcome(d.outcome, d.reason, d.organization_id) for d in decided])
    result.download_message_ids = downloadable_message_ids(
        (row, d.message_id) for d, row in zip(decided, rows, strict=True) if row.get("creates")
    )
    # The statement committed by itself (outside a transaction on_commit runs at once).
    _followups_on_commit(result)
    return result


def _previews(values: dict[str, Any]) -> dict[str, str]:
    """The message's preview in each language of the product (its text alike in all)."""
    if " ".join(values["text"].split()):
        return dict.fromkeys((code for code, _name in settings.LANGUAGES), _row_preview(values))
    previews = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            previews[code] = _row_preview(values)
    return previews


# --------------------------------------------------------------------------- contacts and conversations


def _threads_resolve(
    wanted: dict[tuple[int, str], tuple[Route, bool]], known: dict[tuple[int, str], Thread], *, received_at: datetime
) -> tuple[dict[tuple[int, str], Thread], list[int], set[int]]:
    """The conversation (with its contact) of each (page pk, customer id), created when missing.

    Returns the threads, the ids of the contacts created here (their profiles are to be
    fetched) and the ids of the conversations created here.
    """
    threads = {key: known[key] for key in wanted if key in known and known[key].conversation_id is not None}
    missing = sorted(key for key in wanted if key not in threads)
    if not missing:
        return threads, [], set()

    # Contacts: insert the missing ones; those another request inserted first are read back.
    contacts: dict[tuple[int, str], tuple[int, bool]] = {
        key: (known[key].contact_id, known[key].is_blocked) for key in missing if key in known
    }
    contact_rows = []
    for key in missing:
        if key in contacts:
            continue
        route, is_guest = wanted[key]
        with translation.override(route.language):
            name = contact_fallback_name(psid=key[1], is_guest=is_guest)
        contact_rows.append(
            {
                "organization_id": route.organization_id,
                "page_id": key[0],
                "psid": key[1],
                "is_guest": is_guest,
                "display_name": name[:200],
                # There is no profile to fetch for a chat-plugin guest.
                "profile_fetched_at": received_at if is_guest else None,
            }
        )
    inserted = insert_rows(Contact, contact_rows, returning=("id", "page", "psid"), ignore_conflicts=True)
    new_contact_ids = []
    for contact_id, page_pk, psid in inserted:
        contacts[(page_pk, psid)] = (contact_id, False)
        if not wanted[(page_pk, psid)][1]:
            new_contact_ids.append(contact_id)
    others = [key for key in missing if key not in contacts]
    if others:
        condition = Q()
        for page_pk, customer in others:
            condition |= Q(page_id=page_pk, psid=customer)
        for pk, page_pk, psid, is_blocked in Contact.objects.filter(condition).values_list(
            "pk", "page_id", "psid", "is_blocked"
        ):
            contacts[(page_pk, psid)] = (pk, is_blocked)

    # Conversations: the same, keyed by contact.
    conversation_rows = [
        {
            "organization_id": wanted[key][0].organization_id,
            "channel_id": wanted[key][0].channel_id,
            "department_id": wanted[key][0].department_id,
            "page_id": key[0],
            "contact_id": contacts[key][0],
        }
        for key in missing
    ]
    created = {
        (page_pk, contact_id): conversation_id
        for conversation_id, page_pk, contact_id in insert_rows(
            Conversation, conversation_rows, returning=("id", "page", "contact"), ignore_conflicts=True
        )
    }
    new_conversation_ids = set(created.values())
    raced = []
    for key in missing:
        contact_id, is_blocked = contacts[key]
        conversation_id = created.get((key[0], contact_id))
        if conversation_id is None:
            raced.append(contact_id)
        threads[key] = Thread(
            contact_id=contact_id, page_pk=key[0], psid=key[1], is_blocked=is_blocked, conversation_id=conversation_id
        )
    if raced:
        existing = dict(Conversation.objects.filter(contact_id__in=raced).values_list("contact_id", "pk"))
        for key in missing:
            if threads[key].conversation_id is None:
                threads[key].conversation_id = existing[threads[key].contact_id]
    return threads, new_contact_ids, new_conversation_ids


# --------------------------------------------------------------------------- messages


@dataclass(slots=True)
class _Candidate:
    """A message to insert, for the event at `index`."""

    index: int
    row: dict[str, Any]


def _candidates(
    creating: Sequence[_Live], threads: dict[tuple[int, str], Thread], outcomes: list[Outcome], *, received_at: datetime
) -> dict[int, _Candidate]:
    """One row per (page, mid): a second delivery of a mid in the same POST is a duplicate."""
    candidates: dict[int, _Candidate] = {}
    seen: set[tuple[int, str]] = set()
    for item in creating:
        event, route = item.event, item.route
        if (route.page_pk, event.mid) in seen:
            outcomes[item.index].set(WebhookOutcome.DUPLICATE)
            continue
        seen.add((route.page_pk, event.mid))
        thread = threads[(route.page_pk, event.customer_id)]
        candidates[item.index] = _Candidate(item.index, _message_row(item, thread, received_at=received_at))
    return candidates


def _messages_store(
    creating: list[_Live], plan: Plan, outcomes: list[Outcome], result: BatchResult, *, received_at: datetime
) -> None:
    wanted: dict[tuple[int, str], tuple[Route, bool]] = {}
    for item in creating:
        wanted.setdefault((item.route.page_pk, item.event.customer_id), (item.route, item.event.is_guest))
    threads, new_contact_ids, new_conversation_ids = _threads_resolve(
        wanted, plan.snapshot.threads, received_at=received_at
    )
    result.new_contact_ids.extend(new_contact_ids)
    candidates = _candidates(creating, threads, outcomes, received_at=received_at)
    # In the order of the POST, as the one-statement path does.
    in_order = sorted(candidates)
    capped = {
        index
        for index, marked in zip(in_order, attachments_cap([candidates[i].row for i in in_order]), strict=True)
        if marked
    }
    ordered = sorted(candidates.values(), key=lambda c: (c.row["page_id"], c.row["mid"]))
    inserted = {
        (page_pk, mid): pk
        for pk, page_pk, mid in insert_rows(
            Message, [c.row for c in ordered], returning=("id", "page", "mid"), ignore_conflicts=True
        )
    }
    result.download_message_ids.extend(
        downloadable_message_ids((c.row, inserted.get((c.row["page_id"], c.row["mid"]))) for c in ordered)
    )

    touched: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for index, candidate in candidates.items():
        row = candidate.row
        if (row["page_id"], row["mid"]) not in inserted:
            outcomes[index].set(WebhookOutcome.DUPLICATE, REASON_ATTACHMENTS_NOT_KEPT if index in capped else "")
        elif row["is_hidden"]:
            outcomes[index].set(WebhookOutcome.STORED, REASON_CONTACT_BLOCKED)
        else:
            outcomes[index].set(WebhookOutcome.STORED, REASON_ATTACHMENTS_NOT_KEPT if index in capped else "")
            touched[row["conversation_id"]].append(row)
    if touched:
        _conversations_bump(touched)
        result.announce_conversation_ids.extend(
            conversation_id
            for conversation_id in sorted(new_conversation_ids & touched.keys())
            if any(row["direction"] == Direction.INBOUND for row in touched[conversation_id])
        )


def _message_values(event: ParsedEvent, *, received_at: datetime) -> dict[str, Any]:
    """What a message row holds of the event itself (not of its route or thread), and
    whether it is inbound and counts as the customer writing."""
    content = event.detail
    assert isinstance(content, Content)
    inbound = event.kind != parsing.ECHO
    return {
        "direction": Direction.INBOUND if inbound else Direction.OUTBOUND,
        "source": MessageSource.CUSTOMER if inbound else MessageSource.EXTERNAL,
        "kind": content.kind,
        "status": MessageStatus.RECEIVED if inbound else MessageStatus.SENT,
        "text": content.text,
        "attachments": content.attachments,
        "sticker_id": content.sticker_id,
        "quick_reply_payload": content.quick_reply_payload,
        "reply_to_mid": content.reply_to_mid,
        "postback_title": content.postback_title,
        "postback_payload": content.postback_payload,
        "sent_at": event.occurred_at or received_at,
        fastpath.INBOUND: inbound,
        fastpath.COUNTS: inbound and content.kind in _CUSTOMER_WROTE,
    }


def _message_row(item: _Live, thread: Thread, *, received_at: datetime) -> dict[str, Any]:
    event, route = item.event, item.route
    row = _message_values(event, received_at=received_at)
    row.update(
        {
            "organization_id": route.organization_id,
            "conversation_id": thread.conversation_id,
            "page_id": route.page_pk,
            "mid": event.mid,
            "received_at": received_at,
            # A blocked customer's messages are kept but not shown.
            "is_hidden": row[fastpath.INBOUND] and thread.is_blocked,
        }
    )
    with translation.override(route.language):
        row[fastpath.PREVIEW] = _row_preview(row)
    row[_ORDER] = item.index
    return row


def _conversations_bump(touched: dict[int, list[dict[str, Any]]]) -> None:
    """One UPDATE for all touched conversations (see fastpath.conversation_bump_assignments)."""
    aggregates = []
    for conversation_id in sorted(touched):
        rows = touched[conversation_id]
        latest = max(rows, key=lambda row: (row["sent_at"], row[_ORDER]))
        wrote = [row for row in rows if row[fastpath.COUNTS]]
        last_in = max((row["sent_at"] for row in wrote), default=None)
        aggregates.append((conversation_id, latest["sent_at"], latest[fastpath.PREVIEW], last_in, len(wrote)))
    connection = connection_for(Conversation)
    quote = connection.ops.quote_name
    name, pk = quote(Conversation._meta.db_table), quote(column_of(Conversation._meta.pk))
    state, organization = column(Conversation, "state"), column(Conversation, "organization")
    date_field, preview_field = (
        Conversation._meta.get_field("last_message_at"),
        Conversation._meta.get_field("last_message_preview"),
    )
    params: list[Any] = []
    for conversation_id, last_at, preview, last_in, wrote_count in aggregates:
        params += [
            conversation_id,
            date_field.get_db_prep_save(last_at, connection),
            preview_field.get_db_prep_save(preview, connection),
            date_field.get_db_prep_save(last_in, connection),
            wrote_count,
        ]
    now = date_field.get_db_prep_save(timezone.now(), connection)
    ids = [a[0] for a in aggregates]
    id_list = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            assignments = fastpath.conversation_bump_assignments(
                quote, "c", "a.last_at", "a.preview", "a.last_in", "a.wrote"
            )
            values = ", ".join(["(%s::bigint, %s::timestamptz, %s::varchar, %s::timestamptz, %s::integer)"] * len(ids))
            # The old state comes from the locked row, so that a reopening is told exactly once.
            cursor.execute(
                f"UPDATE {name} AS c SET {assignments} "  # noqa: S608
                f"FROM (VALUES {values}) AS a (id, last_at, preview, last_in, wrote), "
                f"(SELECT {pk} AS id, {state} AS state FROM {name} WHERE {pk} IN ({id_list}) "
                f"ORDER BY {pk} FOR UPDATE) AS o "
                f"WHERE c.{pk} = a.id AND o.id = a.id RETURNING c.{pk}, c.{organization}, o.state, a.wrote",
                [now, *params, *ids],
            )
            before = [(row[0], row[1], row[2]) for row in cursor.fetchall() if row[3] > 0]
        else:
            # SQLite runs one writer at a time: what is read here is what the UPDATE changes.
            cursor.execute(f"SELECT {pk}, {organization}, {state} FROM {name} WHERE {pk} IN ({id_list})", ids)  # noqa: S608
            wrote_by_id = {a[0]: a[4] for a in aggregates}
            before = [row for row in cursor.fetchall() if wrote_by_id[row[0]] > 0]
            assignments = fastpath.conversation_bump_assignments(
                quote, "c", "v.column2", "v.column3", "v.column4", "v.column5"
            )
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(ids))
            cursor.execute(
                f"UPDATE {name} AS c SET {assignments} FROM (VALUES {values}) AS v WHERE c.{pk} = v.column1",  # noqa: S608
                [now, *params],
            )
    reopened = [
        (organization_id, pk_) for pk_, organization_id, old_state in before if old_state == ConversationState.CLOSED
    ]
    if reopened:
        ConversationEvent.objects.bulk_create(
            ConversationEvent(
                organization_id=organization_id, conversation_id=pk_, kind=ConversationEvent.Kind.REOPENED
            )
            for organization_id, pk_ in reopened
        )


def _row_preview(row: dict[str, Any]) -> str:
    return message_preview(
        kind=row["kind"], text=row["text"], attachments=row["attachments"], sticker_id=row["sticker_id"]
    )


# --------------------------------------------------------------------------- own echoes


def _own_echoes_reconcile(echoes: list[_Live], outcomes: list[Outcome]) -> list[_Live]:
    """Confirm the outbound messages this app sent; returns the echoes matching none."""
    keys: dict[int, uuid.UUID] = {}  # id(item) → the metadata, when it is one of our keys
    for item in echoes:
        content = item.event.detail
        assert isinstance(content, Content)
        try:
            keys[id(item)] = uuid.UUID(content.metadata)
        except ValueError:
            pass
    condition = Q(mid__in=sorted({i.event.mid for i in echoes}))
    if keys:
        condition |= Q(idempotency_key__in=list(keys.values()))
    candidates = list(
        Message.objects.select_for_update()
        .filter(condition, page_id__in={i.route.page_pk for i in echoes}, direction=Direction.OUTBOUND)
        .order_by("pk")
    )
    by_key = {m.idempotency_key: m for m in candidates if m.idempotency_key}
    by_mid = {(m.page_id, m.mid): m for m in candidates if m.mid}
    changed: dict[int, Message] = {}
    unmatched = []
    for item in echoes:
        key = keys.get(id(item))
        message = by_mid.get((item.route.page_pk, item.event.mid)) or (by_key.get(key) if key else None)
        if message is None or message.page_id != item.route.page_pk:
            unmatched.append(item)
            continue
        dirty = False
        if not message.mid:
            message.mid = item.event.mid
            dirty = True
        if message.status in _ADVANCE_TO_SENT:
            # The echo proves it went out, even after a send call that timed out.
            message.status = MessageStatus.SENT
            message.error_code = message.error_message = ""
            dirty = True
        if dirty:
            changed[message.pk] = message
            outcomes[item.index].set(WebhookOutcome.STORED)
        else:
            outcomes[item.index].set(WebhookOutcome.DUPLICATE)
    if changed:
        Message.objects.bulk_update(list(changed.values()), ["mid", "status", "error_code", "error_message"])
    return unmatched


# --------------------------------------------------------------------------- reactions and edits


def _targets_update(targeted: list[_Live], outcomes: list[Outcome]) -> None:
    condition = Q()
    for page_pk in sorted({i.route.page_pk for i in targeted}):
        condition |= Q(page_id=page_pk, mid__in=sorted({i.event.mid for i in targeted if i.route.page_pk == page_pk}))
    messages = {(m.page_id, m.mid): m for m in Message.objects.select_for_update().filter(condition).order_by("pk")}
    changed: dict[int, Message] = {}
    edited: dict[int, Message] = {}
    for item in targeted:
        event = item.event
        message = messages.get((item.route.page_pk, event.mid))
        if message is None:
            outcomes[item.index].set(WebhookOutcome.IGNORED, REASON_UNKNOWN_MESSAGE)
            continue
        if isinstance(event.detail, Reaction):
            dirty = _reaction_apply(message, event, event.detail)
        else:
            assert isinstance(event.detail, Edit)
            dirty = _edit_apply(message, event, event.detail)
            if dirty:
                edited[message.pk] = message
        if dirty:
            changed[message.pk] = message
            outcomes[item.index].set(WebhookOutcome.STORED)
        else:
            outcomes[item.index].set(WebhookOutcome.DUPLICATE)
    if changed:
        Message.objects.bulk_update(list(changed.values()), ["reactions", "text", "edit_count", "edited_at"])
        message_search_texts_refresh(edited.values())


def _reaction_apply(message: Message, event: ParsedEvent, reaction: Reaction) -> bool:
    """Each reactor's current reaction; an older event never overrides a newer one."""
    reactions = dict(message.reactions) if isinstance(message.reactions, dict) else {}
    current = reactions.get(event.customer_id)
    if isinstance(current, dict) and int(current.get("at") or 0) > event.timestamp_ms:
        return False
    if reaction.action == "unreact":
        if current is None:
            return False
        del reactions[event.customer_id]
    else:
        wanted = {"reaction": reaction.reaction, "emoji": reaction.emoji, "at": event.timestamp_ms}
        if current == wanted:
            return False
        reactions[event.customer_id] = wanted
    message.reactions = reactions
    return True


def _edit_apply(message: Message, event: ParsedEvent, edit: Edit) -> bool:
    """The latest edit wins: the same (or an older) num_edit changes nothing."""
    if edit.num_edit <= message.edit_count:
        return False
    message.text = edit.text
    message.edit_count = edit.num_edit
    message.edited_at = event.occurred_at or timezone.now()
    return True


# --------------------------------------------------------------------------- receipts


def _receipts_apply(receipts: list[_Live], outcomes: list[Outcome], *, received_at: datetime) -> None:
    """Per customer and kind, one UPDATE that advances every earlier outbound message."""
    grouped: dict[tuple[str, int, str], list[_Live]] = defaultdict(list)
    for item in receipts:
        grouped[(item.event.kind, item.route.page_pk, item.event.customer_id)].append(item)
    for (kind, page_pk, customer), items in sorted(grouped.items()):
        details = [i.event.detail for i in items if isinstance(i.event.detail, Receipt)]
        watermarks = [d.watermark for d in details if d.watermark]
        watermark = max(watermarks) if watermarks else None
        mids = sorted({mid for d in details for mid in d.mids})
        scope = Message.objects.filter(
            organization_id=items[0].route.organization_id,
            page_id=page_pk,
            conversation__contact__psid=customer,
            direction=Direction.OUTBOUND,
        )
        reached = Q(mid__in=mids) if mids else Q()
        if watermark:
            reached = (reached | Q(sent_at__lte=watermark)) if mids else Q(sent_at__lte=watermark)
        at = watermark or max((i.event.occurred_at for i in items if i.event.occurred_at), default=received_at)
        if kind == parsing.DELIVERY:
            updated = scope.filter(reached, status=MessageStatus.SENT).update(
                status=MessageStatus.DELIVERED, delivered_at=at
            )
        else:
            updated = scope.filter(reached, status__in=(MessageStatus.SENT, MessageStatus.DELIVERED)).update(
                status=MessageStatus.READ,
                read_at=at,
                delivered_at=Coalesce("delivered_at", Value(at, output_field=DateTimeField())),
            )
        for item in items:
            if updated:
                outcomes[item.index].set(WebhookOutcome.STORED)
            else:
                outcomes[item.index].set(WebhookOutcome.IGNORED, REASON_NOTHING_TO_UPDATE)


# --------------------------------------------------------------------------- the periodic jobs


@dataclass
class RetryReport:
    retried: int = 0
    still_pending: int = 0
    failed: int = 0


def webhook_events_retry_pending(*, now: datetime | None = None, limit: int = 200) -> RetryReport:
    """Apply events kept as pending, one by one (each in its own savepoint, so that one bad
    event does not hold the others back). Safe to run concurrently: rows are claimed with
    SKIP LOCKED.

    A pending event's processed_at is its last failed attempt: events never tried come
    first, and one that keeps failing waits PENDING_RETRY_BACKOFF, so that a few bad events
    never starve the others.
    """
    now = now or timezone.now()
    report = RetryReport()
    with transaction.atomic():
        rows = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(outcome=WebhookOutcome.PENDING, received_at__lte=now - PENDING_RETRY_AFTER)
            .filter(Q(processed_at__isnull=True) | Q(processed_at__lte=now - PENDING_RETRY_BACKOFF))
            .order_by(F("processed_at").asc(nulls_first=True), "received_at", "pk")[:limit]
        )
        for row in rows:
            standby = _pending_was_standby(row.reason)
            event = parsing.parse_stored(
                row.kind, row.page_id, row.payload, received_at=row.received_at, standby=standby
            )
            try:
                with transaction.atomic():
                    result = events_apply([event], received_at=row.received_at)
            except Exception as error:
                logger.exception("webhook: pending event %s failed again", row.pk)
                if row.received_at <= now - PENDING_GIVE_UP_AFTER:
                    row.outcome, row.reason, row.processed_at = WebhookOutcome.FAILED, REASON_GAVE_UP, now
                    report.failed += 1
                else:
                    row.reason = _pending_reason(standby=standby, error=type(error).__name__)
                    row.processed_at = now
                    report.still_pending += 1
                row.save(update_fields=["outcome", "reason", "processed_at"])
                continue
            outcome = result.outcomes[0]
            row.outcome, row.reason, row.processed_at = outcome.outcome, _logged_reason(event, outcome), now
            row.organization_id = outcome.organization_id
            row.save(update_fields=["outcome", "reason", "processed_at", "organization"])
            report.retried += 1
            _followups_on_commit(result)
    return report


def webhook_events_prune(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete the log older than WEBHOOK_EVENT_RETENTION_DAYS (pending events excepted), in batches."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)
    deleted = 0
    for outcome in WebhookOutcome.values:
        if outcome == WebhookOutcome.PENDING:
            continue
        while True:
            # One outcome at a time: the (outcome, received_at) index serves the lookup.
            ids = list(
                WebhookEvent.objects.filter(outcome=outcome, received_at__lt=cutoff).values_list("pk", flat=True)[
                    :batch_size
                ]
            )
            if not ids:
                break
            deleted += WebhookEvent.objects.filter(pk__in=ids).delete()[0]
    return deleted
