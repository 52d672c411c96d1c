"""Docker cannot run here, so the compose file and Dockerfile are checked as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_five_services_with_health_checks() -> None:
    services = _compose()["services"]
    for name in ("web", "worker", "beat", "postgres", "redis"):
        assert name in services, name
        assert "healthcheck" in services[name], f"{name} has no health check"


def test_each_process_runs_the_right_command() -> None:
    services = _compose()["services"]
    # ASGI workers: the live streams are async responses.
    assert services["web"]["command"][:4] == [
        "gunicorn",
        "helpdesk.asgi:application",
        "--worker-class",
        "uvicorn_worker.UvicornWorker",
    ]
    assert services["worker"]["command"][:4] == ["celery", "-A", "helpdesk", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "helpdesk", "beat"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]


def test_the_application_services_run_in_production_with_postgres_and_redis() -> None:
    services = _compose()["services"]
    for name in ("web", "worker", "worker-sending", "worker-downloads", "beat"):
        environment = services[name]["environment"]
        assert environment["HELPDESK_ENV"] == "production"
        assert (
            environment["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in environment["DATABASE_URL"]
        )
        assert environment["REDIS_URL"].startswith("redis://redis:6379")
        for secret in ("SECRET_KEY", "FB_APP_SECRET", "TOKEN_ENCRYPTION_KEYS"):
            assert "?" in environment[secret], f"{secret} must be required, not defaulted"
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_web_health_check_asks_readyz() -> None:
    assert "/readyz" in " ".join(_compose()["services"]["web"]["healthcheck"]["test"])


def test_the_dockerfile_installs_the_requirements_and_serves_with_gunicorn() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile
    assert "collectstatic" in dockerfile
    assert '"gunicorn", "helpdesk.asgi:application", "--worker-class", "uvicorn_worker.UvicornWorker"' in dockerfile
