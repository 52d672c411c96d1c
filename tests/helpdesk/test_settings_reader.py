from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from settings.env import Env, MissingSetting

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_apply_when_the_variable_is_absent() -> None:
    env = Env(environ={})
    assert env.str("NAME", "fallback") == "fallback"
    assert env.int("COUNT", 7) == 7
    assert env.bool("FLAG", True) is True
    assert env.list("HOSTS", ["a"]) == ["a"]


def test_values_are_parsed_by_type() -> None:
    env = Env(environ={"COUNT": "12", "FLAG": "off", "HOSTS": "a.example, b.example ,"})
    assert env.int("COUNT", 0) == 12
    assert env.bool("FLAG", True) is False
    assert env.list("HOSTS") == ["a.example", "b.example"]


def test_a_malformed_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="COUNT"):
        Env(environ={"COUNT": "many"}).int("COUNT", 0)
    with pytest.raises(ValueError, match="FLAG"):
        Env(environ={"FLAG": "perhaps"}).bool("FLAG", False)


def test_development_defaults_are_refused_in_production() -> None:
    assert Env(environ={}).str("SECRET_KEY", dev_default="dev") == "dev"
    with pytest.raises(MissingSetting, match="SECRET_KEY"):
        Env(environ={}, production=True).str("SECRET_KEY", dev_default="dev")


def _settings_in(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import settings as s, json; print(json.dumps({'db': s.DATABASES['default']['ENGINE'],"
        " 'name': str(s.DATABASES['default']['NAME']), 'broker': s.CELERY_BROKER_URL,"
        " 'cache': s.CACHES['default']['BACKEND'], 'sandbox': s.GRAPH_SANDBOX, 'debug': s.DEBUG}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "HELPDESK_"))}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **environ}, capture_output=True, text=True, timeout=60
    )


def test_no_environment_means_the_embedded_defaults() -> None:
    import json

    result = _settings_in({})
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["db"] == "django.db.backends.sqlite3"
    assert values["broker"] == "filesystem://"
    assert values["sandbox"] is True and values["debug"] is True


def test_database_and_redis_urls_switch_the_backends() -> None:
    import json

    result = _settings_in({"DATABASE_URL": "postgres://u:p@db.example:5433/hd", "REDIS_URL": "redis://cache:6379/2"})
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["db"] == "django.db.backends.postgresql" and values["name"] == "hd"
    assert values["broker"] == "redis://cache:6379/2"
    assert values["cache"] == "helpdesk.cache.RedisCache"


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "PUBLIC_URL", "DATABASE_URL", "FB_APP_SECRET", "TOKEN_ENCRYPTION_KEYS"]
)
def test_production_refuses_to_start_without_a_secret_and_names_it(missing: str) -> None:
    production = {
        "HELPDESK_ENV": "production",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "helpdesk.example",
        "PUBLIC_URL": "https://helpdesk.example",
        "DATABASE_URL": "postgres://u:p@db/hd",
        "REDIS_URL": "redis://cache:6379/0",
        "FB_APP_ID": "1",
        "FB_APP_SECRET": "s",
        "FB_VERIFY_TOKEN": "v",
        "TOKEN_ENCRYPTION_KEYS": "ZGV2LW9ubHktdG9rZW4ta2V5LTAxMjM0NTY3ODlhYmM=",
    }
    assert _settings_in(production).returncode == 0
    del production[missing]
    result = _settings_in(production)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_profile_passes_the_deploy_checks() -> None:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))},
        "HELPDESK_ENV": "production",
        "SECRET_KEY": "k3y-" + "abcdefghij" * 6,
        "ALLOWED_HOSTS": "helpdesk.example",
        "PUBLIC_URL": "https://helpdesk.example",
        "DATABASE_URL": "postgres://u:p@db/hd",
        "REDIS_URL": "redis://cache:6379/0",
        "FB_APP_ID": "1",
        "FB_APP_SECRET": "s",
        "FB_VERIFY_TOKEN": "v",
        "TOKEN_ENCRYPTION_KEYS": "ZGV2LW9ubHktdG9rZW4ta2V5LTAxMjM0NTY3ODlhYmM=",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
