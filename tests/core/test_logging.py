"""Structured logs: one JSON object a line, with the request id, and never a secret."""

import json

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.core.config import LogFormat
from app.core.logging import configure_logging
from app.core.migrations import upgrade_to_head
from app.main import create_app
from tests.conftest import make_settings
from tests.support.database import prepare_database
from tests.support.notifications import eventually
from tests.support.processes import SERVERS, child_environment, running_server

PASSWORD = "a-password-nobody-may-log"


async def test_json_logs_carry_request_ids_and_no_password_or_token(database_url, capsys):
    application = create_app(make_settings(database_url, log_format="json", log_level="DEBUG"))
    async with (
        LifespanManager(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as http,
    ):
        registered = (
            await http.post("/api/auth/register", json={"username": "ivan", "password": PASSWORD})
        ).json()
        await http.post("/api/auth/login", json={"username": "ivan", "password": "wrong-password"})
        refreshed = (
            await http.post(
                "/api/auth/token/refresh", json={"refresh_token": registered["refresh_token"]}
            )
        ).json()
        await http.post(  # a replay: logged as reuse, without the token
            "/api/auth/token/refresh", json={"refresh_token": registered["refresh_token"]}
        )
        await http.get(
            "/api/auth/me",
            headers={"Authorization": f"Bearer {refreshed['access_token']}", "X-Request-ID": "r-1"},
        )

    output = capsys.readouterr().err
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    secrets = [
        PASSWORD,
        "wrong-password",
        registered["access_token"],
        registered["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
    ]
    assert records
    assert all(secret not in output for secret in secrets)
    access = [record for record in records if record["logger"] == "app.access"]
    assert {"method", "path", "status", "duration_ms", "request_id"} <= set(access[0])
    assert any(
        record["request_id"] == "r-1" and record["path"] == "/api/auth/me" for record in access
    )
    assert any("reuse" in record["message"] for record in records)


@pytest.fixture(autouse=True)
def _restore_console_logging():
    yield
    configure_logging(LogFormat.CONSOLE, "INFO")


@pytest.mark.slow
@pytest.mark.parametrize("command", list(SERVERS))
async def test_every_line_is_json_and_each_request_is_logged_once(tmp_path, command):
    """Started as a newcomer would (development: local mode, the sync and the relay running),
    whether by our command or by plain uvicorn, which logs in plain text of its own unless the
    app takes its loggers over."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}"
    await prepare_database(database_url)
    output = tmp_path / "server.log"
    requests = [("GET", "/health/live"), ("GET", "/docs/"), ("GET", "/nowhere"), ("POST", "/api")]
    env = child_environment(DATABASE_URL=database_url, LOG_FORMAT="json")
    async with running_server(command, env, output) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            for number, (method, path) in enumerate(requests):
                await http.request(method, path, headers={"X-Request-ID": f"request-{number}"})
        await eventually(lambda: "sync run 1 success" in output.read_text())

    records = [json.loads(line) for line in output.read_text().splitlines()]
    ours = [record for record in records if record["request_id"].startswith("request-")]
    assert sorted(record["request_id"] for record in ours) == [
        f"request-{number}" for number in range(len(requests))
    ]
    assert all(record["logger"] == "app.access" for record in ours)
    assert not [record for record in records if record["logger"] == "uvicorn.access"]
    assert not [record for record in records if record["level"] in ("error", "critical")]
    messages = [record["message"] for record in records]
    assert "Application startup complete." in messages
    assert sum(message.startswith("local mode:") for message in messages) == 2


def test_migrating_logs_each_upgrade_but_not_alembics_plugins(tmp_path, caplog):
    """`make run` migrates at start-up: a newcomer's first screen shows the upgrades applied,
    not the seven plugins Alembic sets up each time."""
    configure_logging(LogFormat.CONSOLE, "INFO")

    upgrade_to_head(f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}")

    alembic_lines = [r.getMessage() for r in caplog.records if r.name.startswith("alembic")]
    assert any(line.startswith("Running upgrade") for line in alembic_lines)
    assert not [line for line in alembic_lines if "plugin" in line]
