"""`Idempotency-Key` on the API's POSTs (helpdesk.idempotency), through real endpoints."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from helpdesk import idempotency
from helpdesk.models import Department, IdempotencyKey
from helpdesk.services import api_token_create
from labels.models import Label
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


def test_a_retried_create_replays_the_stored_answer_and_creates_nothing_twice(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    first = client.post("/api/v1/departments/", {"name": "Billing"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/departments/", {"name": "Billing"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Department.objects.filter(organization=tenant_a.organization, name="Billing").count() == 1


def test_without_the_header_a_repeated_post_runs_again(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    assert client.post("/api/v1/labels/", {"name": "vip"}, format="json").status_code == 201
    assert (
        client.post("/api/v1/labels/", {"name": "vip"}, format="json").json()["error"]["code"]
        != "idempotency_key_reused"
    )
    assert Label.objects.filter(organization=tenant_a.organization).count() == 1


def test_the_same_key_with_another_body_is_refused_with_422(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    client.post("/api/v1/departments/", {"name": "Billing"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = client.post("/api/v1/departments/", {"name": "Sales"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert not Department.objects.filter(organization=tenant_a.organization, name="Sales").exists()


def test_the_same_key_on_another_endpoint_is_another_request(tenant_a: Tenant) -> None:
    """The path is part of the request: a key used for a department is refused for a label."""
    client = api_client_for(tenant_a.admin)
    department = client.post("/api/v1/departments/", {"name": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    label = client.post("/api/v1/labels/", {"name": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert department.status_code == 201
    assert label.status_code == 422
    assert not Label.objects.filter(organization=tenant_a.organization).exists()


def test_keys_across_two_endpoints_each_replay_their_own_answer(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    for _ in range(2):
        department = client.post("/api/v1/departments/", {"name": "d"}, format="json", HTTP_IDEMPOTENCY_KEY="dep")
        label = client.post("/api/v1/labels/", {"name": "l"}, format="json", HTTP_IDEMPOTENCY_KEY="lab")
        assert department.status_code == label.status_code == 201
    assert department["Idempotent-Replayed"] == label["Idempotent-Replayed"] == "true"
    assert Department.objects.filter(organization=tenant_a.organization, name="d").count() == 1
    assert Label.objects.filter(organization=tenant_a.organization, name="l").count() == 1


def test_keys_belong_to_one_token(tenant_a: Tenant) -> None:
    """Another token's equal key is another key: both requests run."""
    first = api_client_for(tenant_a.admin)
    second = api_client_for(tenant_a.admin)
    a = first.post("/api/v1/labels/", {"name": "one"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    b = second.post("/api/v1/labels/", {"name": "two"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b
    assert set(Label.objects.filter(organization=tenant_a.organization).values_list("name", flat=True)) == {
        "one",
        "two",
    }


def test_a_session_user_has_keys_of_their_own(tenant_a: Tenant, client: Any) -> None:
    client.force_login(tenant_a.admin.user)
    for _ in range(2):
        response = client.post(
            "/api/v1/labels/", {"name": "web"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="w"
        )
        assert response.status_code == 201
    assert response["Idempotent-Replayed"] == "true"
    assert IdempotencyKey.objects.get().scope == f"user:{tenant_a.admin.user.pk}"


def test_a_final_client_error_is_stored_and_replayed(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    for _ in range(2):
        refused = client.post("/api/v1/labels/", {"name": ""}, format="json", HTTP_IDEMPOTENCY_KEY="bad")
        assert refused.status_code == 400
    assert refused["Idempotent-Replayed"] == "true"


def test_a_server_error_is_not_stored_and_the_retry_runs_again(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    client.raise_request_exception = False
    with mock.patch("helpdesk.services.department_create", autospec=True, side_effect=RuntimeError("boom")):
        failed = client.post("/api/v1/departments/", {"name": "Ops"}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert failed.status_code == 500
    assert not IdempotencyKey.objects.exists()
    retried = client.post("/api/v1/departments/", {"name": "Ops"}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried


def test_a_key_still_in_progress_answers_409(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    body = b'{"name": "Ops"}'
    token = tenant_a.admin.api_tokens.get()
    IdempotencyKey.objects.create(
        organization=tenant_a.organization,
        scope=f"token:{token.pk}",
        key="busy",
        fingerprint=idempotency.request_fingerprint(method="POST", path="/api/v1/departments/", body=body),
    )
    response = client.post("/api/v1/departments/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_progress"
    assert not Department.objects.filter(organization=tenant_a.organization, name="Ops").exists()


def test_a_claim_abandoned_by_a_crashed_request_is_taken_over(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    body = b'{"name": "Ops"}'
    token = tenant_a.admin.api_tokens.get()
    IdempotencyKey.objects.create(
        organization=tenant_a.organization,
        scope=f"token:{token.pk}",
        key="stale",
        fingerprint=idempotency.request_fingerprint(method="POST", path="/api/v1/departments/", body=body),
        created_at=timezone.now() - timedelta(hours=1),
    )
    response = client.post("/api/v1/departments/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="stale")
    assert response.status_code == 201


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two connections writing at once: PostgreSQL")
@pytest.mark.postgres
def test_a_concurrent_retry_gets_409_while_the_first_is_running(tenant_a: Tenant) -> None:
    """Two clients of one token, the first held inside the service: its retry is refused."""
    _token, key = api_token_create(membership=tenant_a.admin, name="race")
    inside, release = threading.Event(), threading.Event()
    from helpdesk import services

    real_create = services.department_create

    def held(**kwargs: Any) -> Any:
        inside.set()
        assert release.wait(10)
        return real_create(**kwargs)

    results: dict[str, Any] = {}

    def first_request() -> None:
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            results["first"] = client.post(
                "/api/v1/departments/", {"name": "Race"}, format="json", HTTP_IDEMPOTENCY_KEY="race"
            )
        finally:
            connection.close()

    with mock.patch("helpdesk.services.department_create", side_effect=held):
        thread = threading.Thread(target=first_request)
        thread.start()
        assert inside.wait(10)
        from rest_framework.test import APIClient

        retry_client = APIClient()
        retry_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        retry = retry_client.post("/api/v1/departments/", {"name": "Race"}, format="json", HTTP_IDEMPOTENCY_KEY="race")
        release.set()
        thread.join(10)
    assert retry.status_code == 409
    assert retry.json()["error"]["code"] == "idempotency_key_in_progress"
    assert results["first"].status_code == 201
    assert Department.objects.filter(organization=tenant_a.organization, name="Race").count() == 1


def test_a_key_longer_than_255_characters_is_refused(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    response = client.post("/api/v1/labels/", {"name": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_invalid"
    assert not Label.objects.exists()
    ok = client.post("/api/v1/labels/", {"name": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 255)
    assert ok.status_code == 201


def test_a_key_older_than_the_retention_is_a_new_key_and_is_pruned(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    client.post("/api/v1/labels/", {"name": "old"}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = client.post("/api/v1/labels/", {"name": "new"}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert again.status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency.idempotency_keys_prune() == 1
    assert not IdempotencyKey.objects.exists()


def test_keys_of_another_organization_never_replay(tenant_a: Tenant, tenant_b: Tenant) -> None:
    a = api_client_for(tenant_a.admin)
    b = api_client_for(tenant_b.admin)
    a.post("/api/v1/labels/", {"name": "same"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    response = b.post("/api/v1/labels/", {"name": "same"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Label.objects.filter(organization=tenant_b.organization).count() == 1


@override_settings(IDEMPOTENCY_KEY_RETENTION_HOURS=24)
def test_the_header_is_ignored_on_other_methods(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    response = client.get("/api/v1/labels/", HTTP_IDEMPOTENCY_KEY="k" * 300)
    assert response.status_code == 200
    assert not IdempotencyKey.objects.exists()


def _kept(tenant: Tenant, key: str, body: Any) -> IdempotencyKey:
    return IdempotencyKey.objects.create(
        organization=tenant.organization,
        scope="token:1",
        key=key,
        fingerprint="f",
        completed_at=timezone.now(),
        response_status=200,
        response_content_type="application/json",
        response_body=body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode(),
    )


def test_kept_answers_that_tell_of_a_person_are_erased_and_the_rest_kept(tenant_a: Tenant) -> None:
    mentions = idempotency.Mentions(
        needles=["7000000000000001", "Li", "山田 花子"],
        texts=["注文した商品がまだ届きません。住所は東京都…", "ok"],
        ids={"conversation": [41], "ticket": [7], "message": [900]},
    )
    quoting = {
        "psid": {"contact": {"psid": "7000000000000001"}},
        "name in a sentence": {"body": "Call Li back"},
        "japanese name": {"name": "山田 花子"},
        "preview": {"last_message_preview": "注文した商品がまだ"},
        "whole short text": {"text": "ok"},
        "conversation id": {"id": 3, "conversation_id": 41},
        "ticket reference": {"tickets": [{"ticket": {"id": 7}}]},
        "bulk ids": {"message_ids": [5, 900]},
    }
    apart = {
        "a word that holds the name": {"status": "delivered"},
        "a short start of a text": {"text": "注文"},
        "a number that is not an id": {"id": 41, "unread_count": 7},
        "another conversation": {"conversation_id": 42},
    }
    for key, body in {**quoting, **apart}.items():
        _kept(tenant_a, key, body)
    _kept(tenant_a, "not json", b"Li said ok")

    erased = idempotency.idempotency_replies_erase(organization=tenant_a.organization, mentions=mentions)

    assert erased == len(quoting) + 1
    gone = set(IdempotencyKey.objects.filter(response_status__isnull=True).values_list("key", flat=True))
    assert gone == {*quoting, "not json"}
    assert all(bytes(row.response_body) == b"" for row in IdempotencyKey.objects.filter(key__in=gone))
