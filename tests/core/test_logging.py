"""Structured logs: one JSON object a line, with the request id, and never a secret."""

import json

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.core.config import LogFormat
from app.core.logging import configure_logging
from app.main import create_app
from tests.conftest import make_settings

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
