"""Invalid configuration stops start-up with one clear line naming the variable."""

import asyncio
import sys

import pytest

from app.core.config import ConfigurationError, load_settings
from tests.support.processes import child_environment, run_cli


def test_production_refuses_a_missing_secret():
    with pytest.raises(ConfigurationError, match="JWT_SECRET_KEY"):
        load_settings(environment="production")


def test_production_refuses_a_short_secret():
    with pytest.raises(ConfigurationError, match=r"JWT_SECRET_KEY.*at least 32"):
        load_settings(environment="production", jwt_secret_key="short")


def test_test_environment_requires_a_secret_too():
    with pytest.raises(ConfigurationError, match="JWT_SECRET_KEY"):
        load_settings(environment="test")


SECRET = "a-secret-key-of-at-least-thirty-two-characters"


@pytest.mark.parametrize("environment", ["test", "production"])
def test_only_development_runs_without_the_provider_and_notification_urls(environment):
    with pytest.raises(ConfigurationError) as raised:
        load_settings(environment=environment, jwt_secret_key=SECRET)

    assert "EVENTS_PROVIDER_URL and NOTIFICATIONS_URL must be set" in str(raised.value)
    with pytest.raises(ConfigurationError) as one_missing:
        load_settings(
            environment=environment,
            jwt_secret_key=SECRET,
            events_provider_url="https://events.example.com/api/events/",
        )
    assert "NOTIFICATIONS_URL must be set" in str(one_missing.value)
    assert "EVENTS_PROVIDER_URL" not in str(one_missing.value)
    assert "\n" not in str(one_missing.value)


def test_empty_urls_mean_local_mode_in_development(monkeypatch):
    monkeypatch.setenv("EVENTS_PROVIDER_URL", "")
    monkeypatch.setenv("NOTIFICATIONS_URL", "")

    settings = load_settings(environment="development")

    assert settings.events_provider_url is None
    assert settings.notifications_url is None


def test_development_makes_a_random_secret():
    first = load_settings(environment="development")
    second = load_settings(environment="development")

    assert first.uses_generated_secret
    assert len(first.secret_key) >= 32
    assert first.secret_key != second.secret_key


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ACCESS_TOKEN_TTL_SECONDS", "fifteen minutes"),
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("ENVIRONMENT", "staging"),
        ("NOTIFICATIONS_OWNER_ID", "not-a-uuid"),
        ("EVENTS_PROVIDER_URL", "not a url"),
        ("LOG_FORMAT", "xml"),
    ],
)
def test_an_invalid_variable_is_named(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigurationError) as raised:
        load_settings()

    assert variable in str(raised.value)
    assert "\n" not in str(raised.value)


async def test_cli_exits_with_one_line_and_no_traceback(tmp_path):
    env = child_environment(ENVIRONMENT="production")

    code, _, stderr = await run_cli("migrate", env=env, cwd=tmp_path)

    assert code == 1
    assert "JWT_SECRET_KEY" in stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1


async def test_uvicorn_import_exits_with_one_line_and_no_traceback(tmp_path):
    env = child_environment(ACCESS_TOKEN_TTL_SECONDS="soon")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import app.main",
        env=env,
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 1
    assert "ACCESS_TOKEN_TTL_SECONDS" in stderr.decode()
    assert "Traceback" not in stderr.decode()
