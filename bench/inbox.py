"""Benchmark of the agent inbox: the first page of 25 with 100,000 conversations and
1,000,000 messages in PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_inbox .venv/bin/python bench/inbox.py

It creates (and afterwards drops) its own database, `<name of DATABASE_URL's database>_bench`,
migrates it, fills it with set-based SQL (INSERT … SELECT generate_series), then times the
agent's inbox through the whole Django stack (middleware, auth, selectors, serializers,
templates): the API list, the HTML page, the polled HTML partial, and with no budget (printed
for the record) a search, the polled partial in the other sorts (longest waiting, reply window
closing soonest) and the views' counts. It prints one line that starts with `inbox:` and exits
non-zero when a p95 of the first three is 30 ms or more, or when a query count depends on the
page size.

The agent's toolkit is timed on the same data (20 labels, 10,000 canned responses) and
printed on a second line, `inbox toolkit:`: the polled list filtered by a label (p95 < 30 ms,
the API's query count the same for 5 and 25 rows), the composer's canned response search
(p95 < 20 ms) and a bulk action on 100 conversations (each < 500 ms).

Options: --conversations N, --messages-per-conversation N, --requests N, --keep (do not drop
the database), --reuse (time a database kept by --keep instead of generating one), --explain
(print the plan of the agent's list query in each sort).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

P95_BUDGET_MS = 30.0
CHANNELS = 10
AGENT_CHANNELS = 3
SEARCH_REQUESTS = 40
# The agent's toolkit (issue 16): labels, canned responses, bulk actions.
LABELS = 20
CANNED_RESPONSES = 10_000
CANNED_P95_BUDGET_MS = 20.0
BULK_SIZE = 100
BULK_BUDGET_MS = 500.0
BULK_REQUESTS = 20


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages-per-conversation", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--explain", action="store_true")
    return parser.parse_args()


def _generate(conversations: int, per_conversation: int) -> dict[str, Any]:
    """Set-based fill: a handful of ORM rows, then contacts, conversations and messages in SQL."""
    from django.db import connection

    from channels.models import AgentChannel, Channel
    from helpdesk.models import Department, Role
    from helpdesk.services import api_token_create, organization_create
    from messenger import open_counts
    from messenger.crypto import encrypt_token
    from messenger.models import FacebookPage

    organization, admin = organization_create(
        name="Bench", slug="bench", admin_username="bench-admin", admin_password="bench-admin-Pa55word!"
    )
    departments = [Department.objects.create(organization=organization, name=f"Dept {n}") for n in range(5)]
    from django.contrib.auth import get_user_model

    agent_user = get_user_model().objects.create_user(username="bench-agent", password="bench-agent-Pa55word!")
    from helpdesk.models import Membership

    agent = Membership.objects.create(organization=organization, user=agent_user, role=Role.AGENT)
    # The agent works in every department (channels.visibility: an association counts only there).
    agent.departments.set(departments)
    channels = [
        Channel.objects.create(organization=organization, department=departments[n % 5], name=f"Channel {n}")
        for n in range(CHANNELS)
    ]
    for channel in channels[:AGENT_CHANNELS]:
        AgentChannel.objects.create(organization=organization, membership=agent, channel=channel)
    pages = [
        FacebookPage.objects.create(
            organization=organization,
            channel=channel,
            page_id=str(5_000_000 + n),
            name=f"Page {n}",
            access_token_encrypted=encrypt_token("bench-token"),
        )
        for n, channel in enumerate(channels)
    ]
    _token, key = api_token_create(membership=agent, name="bench")
    page_ids = ",".join(str(p.pk) for p in pages)
    org = organization.pk
    started = time.perf_counter()
    steps: dict[str, float] = {}
    with connection.cursor() as cursor:
        # Bench data is consistent by construction: skip the per-row foreign key triggers.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        # Bulk loads build indexes once at the end, not row by row.
        cursor.execute(
            """
            SELECT indexname, indexdef FROM pg_indexes
            WHERE tablename IN ('messenger_contact', 'messenger_conversation', 'messenger_message',
                                'messenger_messagesearchtext')
              AND indexname NOT IN (SELECT conname FROM pg_constraint)
            """
        )
        deferred_indexes = cursor.fetchall()
        for index_name, _definition in deferred_indexes:
            cursor.execute(f'DROP INDEX "{index_name}"')
        steps["contacts"] = time.perf_counter()
        cursor.execute(
            f"""
            INSERT INTO messenger_contact (organization_id, page_id, psid, is_guest, display_name, first_name,
                                           last_name, avatar_url, locale, is_blocked, created_at)
            SELECT {org}, (ARRAY[{page_ids}])[1 + i % {CHANNELS}], 'psid-' || i, false, 'Customer ' || i, '', '', '',
                   '', false, now()
            FROM generate_series(1, {int(conversations)}) AS i
            """
        )
        steps["conversations"] = time.perf_counter()
        cursor.execute(
            f"""
            INSERT INTO messenger_conversation (organization_id, channel_id, department_id, page_id, contact_id,
                state, assignee_id, last_inbound_at, last_message_at, last_message_preview, unread_count,
                waiting_since, created_at, updated_at)
            SELECT {org}, p.channel_id, ch.department_id, c.page_id, c.id,
                   CASE WHEN c.id % 5 = 0 THEN 'closed' ELSE 'open' END,
                   CASE WHEN c.id % 4 = 0 THEN {agent_user.pk} END,
                   t.at, t.at, 'Message text ' || c.id, c.id % 3,
                   -- A third of the open conversations wait for an answer (the inbox's "longest waiting").
                   CASE WHEN c.id % 3 = 0 AND c.id % 5 <> 0 THEN t.at END,
                   t.at, t.at
            FROM messenger_contact c
            JOIN messenger_facebookpage p ON p.id = c.page_id
            JOIN channels_channel ch ON ch.id = p.channel_id
            CROSS JOIN LATERAL (SELECT now() - (random() * interval '30 days') AS at) t
            WHERE c.organization_id = {org}
            """
        )
        steps["messages"] = time.perf_counter()
        cursor.execute(
            f"""
            INSERT INTO messenger_message (organization_id, conversation_id, page_id, mid, direction, source, kind,
                status, text, attachments, sticker_id, quick_reply_payload, reply_to_mid, postback_title,
                postback_payload, reactions, edit_count, sent_at, received_at, messaging_type, tag, attempts,
                error_code, error_message, is_hidden)
            SELECT {org}, cv.id, cv.page_id, 'm_' || cv.id || '_' || n,
                   CASE WHEN n % 2 = 0 THEN 'out' ELSE 'in' END,
                   CASE WHEN n % 2 = 0 THEN 'agent' ELSE 'customer' END,
                   'text',
                   CASE WHEN n % 2 = 0 THEN 'read' ELSE 'received' END,
                   'Message ' || n || ' of conversation ' || cv.id, '[]', '', '', '', '', '', '{{}}', 0,
                   cv.last_message_at - ({per_conversation} - n) * interval '1 minute',
                   cv.last_message_at, '', '', 0, '', '', false
            FROM messenger_conversation cv CROSS JOIN generate_series(1, {per_conversation}) AS n
            WHERE cv.organization_id = {org}
            """
        )
        steps["search copy"] = time.perf_counter()
        # What the periodic job (messenger.services.search) would have copied by now.
        cursor.execute(
            f"""
            INSERT INTO messenger_messagesearchtext (message_id, organization_id, conversation_id, text)
            SELECT id, organization_id, conversation_id, text FROM messenger_message
            WHERE organization_id = {org} AND text <> ''
            """
        )
        steps["toolkit"] = time.perf_counter()
        _generate_toolkit(cursor, organization=organization, admin=admin, agent=agent, departments=departments)
        steps["indexes"] = time.perf_counter()
        for _index_name, definition in deferred_indexes:
            cursor.execute(definition)
        cursor.execute("SET session_replication_role = DEFAULT")
        # The load bypassed the triggers that keep the view counts (messenger.open_counts).
        steps["counts"] = time.perf_counter()
        open_counts.rebuild()
        steps["analyze"] = time.perf_counter()
        # VACUUM merges the trigram index's pending list (the canned responses' search reads it).
        cursor.execute("VACUUM ANALYZE")
        # The load's dirty pages written now, not by a checkpoint in the middle of the timings.
        cursor.execute("CHECKPOINT")
    generated = time.perf_counter() - started
    marks = [*steps.values(), started + generated]
    durations = {name: marks[i + 1] - marks[i] for i, name in enumerate(steps)}
    return {
        "durations": durations,
        "organization": organization,
        "admin": admin,
        "agent": agent,
        "api_key": key,
        "generated": generated,
    }


def _generate_toolkit(cursor: Any, *, organization: Any, admin: Any, agent: Any, departments: list[Any]) -> None:
    """20 labels, each on about one conversation in 40 (a conversation has 0 to 2 of them),
    and 10,000 canned responses: 6,000 of the organization, 3,000 of the departments, 1,000
    personal (the agent's and the admin's), in English, Japanese or both."""
    org = organization.pk
    cursor.execute(
        f"""
        INSERT INTO labels_label (organization_id, name, color, created_at)
        SELECT {org}, 'Label ' || n, (ARRAY['gray','red','orange','yellow','green','teal','blue','indigo',
               'purple','pink'])[1 + n % 10], now()
        FROM generate_series(1, {LABELS}) AS n
        """
    )
    # Conversation c gets label (c % 40) when that is one of the 20, and label (c % 53) likewise.
    cursor.execute(
        f"""
        INSERT INTO messenger_conversationlabel (organization_id, conversation_id, label_id, created_at)
        SELECT DISTINCT {org}, cv.id, l.id, now()
        FROM messenger_conversation cv
        JOIN labels_label l ON l.organization_id = {org}
             AND (l.name = 'Label ' || (1 + cv.id % 40) OR l.name = 'Label ' || (1 + cv.id % 53))
        WHERE cv.organization_id = {org}
        """
    )
    department_ids = ",".join(str(d.pk) for d in departments)
    cursor.execute(
        f"""
        INSERT INTO canned_cannedresponse (organization_id, scope, department_id, owner_id, shortcut, title,
            body_en, body_ja, search_text, usage_count, created_at, updated_at)
        SELECT {org},
               CASE WHEN n <= 6000 THEN 'organization' WHEN n <= 9000 THEN 'department' ELSE 'personal' END,
               CASE WHEN n > 6000 AND n <= 9000 THEN (ARRAY[{department_ids}])[1 + n % 5] END,
               CASE WHEN n > 9000 THEN (CASE WHEN n % 2 = 0 THEN {agent.pk} ELSE
                    (SELECT id FROM helpdesk_membership WHERE user_id = {admin.pk} AND organization_id = {org})
                    END) END,
               'reply' || n, 'Answer number ' || n || ' about ' || (ARRAY['refunds','shipping','accounts',
               'payments','returns'])[1 + n % 5],
               CASE WHEN n % 3 <> 2 THEN 'Hello {{{{contact.first_name}}}}, here is answer ' || n || '.' ELSE '' END,
               CASE WHEN n % 3 <> 0
                    THEN 'こんにちは、{{{{contact.first_name}}}} さん。回答 ' || n || ' です。' ELSE '' END,
               '', n % 17, now(), now()
        FROM generate_series(1, {CANNED_RESPONSES}) AS n
        """
    )
    cursor.execute(
        f"""
        UPDATE canned_cannedresponse
        SET search_text = lower(shortcut || E'\\n' || title || E'\\n' || body_en || E'\\n' || body_ja)
        WHERE organization_id = {org}
        """
    )


def _existing() -> dict[str, Any]:
    from helpdesk.models import Membership
    from helpdesk.services import api_token_create

    agent = Membership.objects.select_related("organization", "user").get(user__username="bench-agent")
    _token, key = api_token_create(membership=agent, name="bench")
    return {"organization": agent.organization, "agent": agent, "api_key": key, "generated": 0.0, "durations": {}}


def _time(call: Any, requests: int) -> tuple[list[float], float]:
    """Wall-clock milliseconds of each request, and the mean CPU milliseconds of this process."""
    for _ in range(20):
        call()
    timings = []
    cpu_started = time.process_time()
    for _ in range(requests):
        started = time.perf_counter()
        response = call()
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return timings, (time.process_time() - cpu_started) * 1000 / requests


def _p95(timings: list[float]) -> float:
    return statistics.quantiles(timings, n=100)[94]


def _queries(call: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        call()
    return len(context.captured_queries)


def main() -> int:
    from bench import database

    options = _parse()
    url, config = database.throwaway("inbox")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", "")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from rest_framework.test import APIClient

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.DEBUG = False
    # No setup_test_environment(): its template instrumentation would be timed too.
    if not options.reuse:
        database.recreate(config)
    try:
        if options.reuse:
            data = _existing()
        else:
            call_command("migrate", verbosity=0)
            data = _generate(options.conversations, options.messages_per_conversation)
        from messenger.models import Conversation, Message

        counts = (Conversation.objects.count(), Message.objects.count())
        # What the periodic job folds every minute (a --reuse run finds the last run's bulk actions).
        from messenger import open_counts

        open_counts.fold()
        agent = data["agent"]

        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {data['api_key']}")
        web = Client()
        web.force_login(agent.user)

        def api_page(size: int = 25) -> Any:
            return api.get(f"/api/v1/conversations/?page_size={size}")

        def html_page() -> Any:
            return web.get("/o/bench/inbox/")

        def html_list() -> Any:
            return web.get("/o/bench/inbox/list/")

        searches = iter(range(10**9))

        def html_search() -> Any:
            # By a customer's name and by words of a message, in turn (each matches one conversation).
            n = next(searches)
            term = f"Customer {4242 + n}" if n % 2 else f"of conversation {4242 + n}"
            return web.get("/o/bench/inbox/", {"q": term})

        def html_sorted(sort: str) -> Any:
            return web.get("/o/bench/inbox/list/", {"sort": sort})

        def api_counts() -> Any:
            return api.get("/api/v1/conversations/counts/")

        # --- The agent's toolkit (issue 16) ---
        from labels.models import Label
        from messenger.models import ConversationLabel
        from messenger.selectors import conversations as conversation_selectors
        from messenger.selectors import filters as filter_selectors

        label_ids = list(Label.objects.filter(organization=data["organization"]).values_list("pk", flat=True))
        # The label of most conversations (the heaviest filter) and a rare one, in turn.
        by_use = sorted(label_ids, key=lambda pk: -ConversationLabel.objects.filter(label_id=pk).count())
        filtered_labels = iter(range(10**9))

        def html_label_list() -> Any:
            label_id = by_use[0] if next(filtered_labels) % 2 else by_use[-1]
            return web.get("/o/bench/inbox/list/", {"label": label_id})

        def api_label_page(size: int) -> Any:
            return api.get(f"/api/v1/conversations/?label={by_use[0]}&page_size={size}")

        visible = conversation_selectors.conversation_list(organization=data["organization"], membership=agent)
        composer_conversation = visible.first()
        canned_terms = ["refunds", "answer number 4242", "回答 77", "reply12", "", "ship", "こんにちは", "zzz-none"]
        canned_terms_iter = iter(range(10**9))

        def canned_search() -> Any:
            term = canned_terms[next(canned_terms_iter) % len(canned_terms)]
            return web.get(f"/o/bench/inbox/{composer_conversation.pk}/canned/", {"q": term})

        bulk_ids = list(visible.filter(state="open").order_by("pk").values_list("pk", flat=True)[:BULK_SIZE])
        bulk_actions = iter(range(10**9))

        def bulk_action() -> Any:
            action = "close" if next(bulk_actions) % 2 == 0 else "reopen"
            return api.post("/api/v1/conversations/bulk/", {"ids": bulk_ids, "action": action}, format="json")

        if options.explain:
            for sort in ("newest", "waiting", "window_closing"):
                filters = filter_selectors.ConversationFilters.from_params({"sort": sort})
                queryset = conversation_selectors.conversation_list(
                    organization=data["organization"], membership=agent, filters=filters
                )[:26]
                print(f"-- {sort}\n{queryset.explain(analyze=True)}")

        api_timings, api_cpu = _time(api_page, options.requests)
        html_timings, html_cpu = _time(html_page, options.requests)
        list_timings, list_cpu = _time(html_list, options.requests)
        # No budget: printed for the record (a search reads the organization's messages once).
        search_timings, _search_cpu = _time(html_search, min(options.requests, SEARCH_REQUESTS))
        # No budget either: the other sorts of the polled list, and the views' counts alone.
        sort_timings = {
            sort: _time(lambda sort=sort: html_sorted(sort), options.requests)[0]
            for sort in ("waiting", "window_closing")
        }
        counts_timings, _counts_cpu = _time(api_counts, options.requests)
        label_timings, _label_cpu = _time(html_label_list, options.requests)
        label_queries = {size: _queries(lambda size=size: api_label_page(size)) for size in (5, 25, 5, 25)}
        canned_timings, _canned_cpu = _time(canned_search, options.requests)
        # Each run changes all 100: closed, then reopened.
        bulk_timings, _bulk_cpu = _time(bulk_action, BULK_REQUESTS)
        bulk_changed = len(bulk_action().json()["changed"])
        # Each size twice, the second kept: the first may include the token's last-used stamp.
        api_queries = {size: _queries(lambda size=size: api_page(size)) for size in (5, 25, 5, 25)}
        html_queries = _queries(html_page)
        results = {"api": _p95(api_timings), "html": _p95(html_timings), "list": _p95(list_timings)}
        toolkit = {
            "label": _p95(label_timings),
            "canned": _p95(canned_timings),
            "bulk": max(bulk_timings),
        }
        toolkit_ok = (
            toolkit["label"] < P95_BUDGET_MS
            and label_queries[5] == label_queries[25]
            and toolkit["canned"] < CANNED_P95_BUDGET_MS
            and toolkit["bulk"] < BULK_BUDGET_MS
            and bulk_changed == len(bulk_ids) == BULK_SIZE
        )
        ok = all(p95 < P95_BUDGET_MS for p95 in results.values()) and api_queries[5] == api_queries[25]
        ok = ok and toolkit_ok
        print(
            f"inbox: {'PASS' if ok else 'FAIL'} conversations={counts[0]} messages={counts[1]} "
            f"generated_in={data['generated']:.1f}s "
            f"({', '.join(f'{name} {seconds:.1f}s' for name, seconds in data['durations'].items())}) "
            f"api_p95={results['api']:.1f}ms (p50 {statistics.median(api_timings):.1f}, cpu {api_cpu:.1f}) "
            f"html_p95={results['html']:.1f}ms (p50 {statistics.median(html_timings):.1f}, cpu {html_cpu:.1f}) "
            f"list_partial_p95={results['list']:.1f}ms (p50 {statistics.median(list_timings):.1f}, "
            f"cpu {list_cpu:.1f}) search_p95={_p95(search_timings):.0f}ms "
            f"(p50 {statistics.median(search_timings):.0f}, no budget) "
            f"list_waiting_p95={_p95(sort_timings['waiting']):.1f}ms "
            f"list_window_closing_p95={_p95(sort_timings['window_closing']):.1f}ms "
            f"counts_p95={_p95(counts_timings):.1f}ms (no budget) "
            f"queries api={api_queries[25]} (page 5: {api_queries[5]}) html={html_queries} "
            f"budget_p95<{P95_BUDGET_MS:.0f}ms requests={options.requests} load={os.getloadavg()[0]:.1f}"
        )
        print(
            f"inbox toolkit: {'PASS' if toolkit_ok else 'FAIL'} labels={len(label_ids)} "
            f"canned_responses={CANNED_RESPONSES} "
            f"label_filter_list_p95={toolkit['label']:.1f}ms (p50 {statistics.median(label_timings):.1f}, "
            f"budget <{P95_BUDGET_MS:.0f}) label_filter_queries api page 5={label_queries[5]} "
            f"page 25={label_queries[25]} "
            f"canned_search_p95={toolkit['canned']:.1f}ms (p50 {statistics.median(canned_timings):.1f}, "
            f"budget <{CANNED_P95_BUDGET_MS:.0f}) "
            f"bulk_{BULK_SIZE}_max={toolkit['bulk']:.0f}ms (p50 {statistics.median(bulk_timings):.0f}, "
            f"budget <{BULK_BUDGET_MS:.0f}, changed {bulk_changed} of {len(bulk_ids)})"
        )
        return 0 if ok else 1
    finally:
        connection.close()
        if not options.keep and not options.reuse:
            database.drop(config)


if __name__ == "__main__":
    sys.exit(main())
