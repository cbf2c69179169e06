"""What a consumer generates from `/openapi.json` works (SPEC §4.8): openapi-python-client
writes a client with no warning, and the main flow runs through it over real HTTP —
register, log in, list, register for an event, confirm, ticket. A schema change that breaks
such a client fails here. `openapi-typescript` must accept the document too, where node is."""

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import database_of
from tests.support.events import create_event
from tests.support.notifications import api, eventually, notifications, relay_app
from tests.support.servers import serving

__all__ = ["api", "notifications", "relay_app"]

PACKAGE = "events_face_client"
# openapi-python-client reads JSON, text and bytes; a QR code's image types are bytes to it.
GENERATOR_CONFIG = {
    "content_type_overrides": {
        "image/png": "application/octet-stream",
        "image/svg+xml": "application/octet-stream",
    }
}
CODE = re.compile(r"код подтверждения: (\d{6})")
TOOLS = Path(sys.executable).parent  # the generator, and ruff, which it formats with


@pytest.fixture(scope="module")
def document_file(relay_app, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "openapi.json"
    path.write_text(json.dumps(relay_app.openapi()))
    return path


def generate(document_file: Path, into: Path) -> subprocess.CompletedProcess[str]:
    config = into / "config.json"
    config.write_text(json.dumps(GENERATOR_CONFIG))
    return subprocess.run(  # noqa: S603
        [
            str(TOOLS / "openapi-python-client"),
            "generate",
            f"--path={document_file}",
            f"--config={config}",
            f"--output-path={into / PACKAGE}",
            "--meta=none",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"},
        check=False,
    )


@pytest.fixture(scope="module")
def generated(document_file, tmp_path_factory) -> ModuleType:
    into = tmp_path_factory.mktemp("client")
    result = generate(document_file, into)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in (result.stdout + result.stderr).casefold(), result.stdout
    sys.path.insert(0, str(into))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(into))


def module(package: ModuleType, name: str) -> ModuleType:
    return importlib.import_module(f"{package.__name__}.{name}")


async def test_the_main_flow_runs_through_a_generated_client(
    generated, api, relay_app, notifications
):
    models = module(generated, "models")
    calls = {
        name: module(generated, f"api.{name.split('_')[0]}.{name}")
        for name in (
            "auth_register",
            "auth_login",
            "events_list",
            "registrations_create",
            "registrations_confirm",
            "tickets_get",
        )
    }
    event = await create_event(database_of(relay_app), name="Конференция генераторов")
    async with serving(relay_app) as base_url:
        anonymous = generated.Client(base_url=base_url)
        account = models.RegisterRequest(username="front-end", password="a-long-password")
        created = await calls["auth_register"].asyncio(client=anonymous, body=account)
        login = models.LoginRequest(username="front-end", password="a-long-password")
        tokens = await calls["auth_login"].asyncio(client=anonymous, body=login)
        client = generated.AuthenticatedClient(base_url=base_url, token=tokens.access_token)
        page = await calls["events_list"].asyncio(client=client, name="генератор")
        visitor = models.RegistrationCreate(full_name="Анна", email="anna@example.com")
        pending = await calls["registrations_create"].asyncio(event.id, client=client, body=visitor)
        code = await code_sent_to(notifications, "anna@example.com")
        confirmed = await calls["registrations_confirm"].asyncio(
            pending.id, client=client, body=models.ConfirmRequest(code=code)
        )
        ticket = await calls["tickets_get"].asyncio(pending.id, client=client)
        refused = await calls["registrations_confirm"].asyncio_detailed(
            event.id, client=client, body=models.ConfirmRequest(code=code)
        )

    assert created.user.username == "front-end"
    assert [found.name for found in page.results] == ["Конференция генераторов"]
    assert (pending.status, pending.locked) == (models.RegistrationStatus.PENDING, False)
    assert confirmed.status == models.RegistrationStatus.CONFIRMED
    assert (ticket.registration_id, ticket.event.name) == (pending.id, event.name)
    assert refused.status_code == 404
    assert refused.parsed.type_.endswith("/registration-not-found")


async def code_sent_to(notifications, email: str) -> str:
    def codes() -> list[str]:
        to_them = (
            seen.body["message"] for seen in notifications.received if seen.body["email"] == email
        )
        return [found[1] for found in map(CODE.search, to_them) if found]

    await eventually(codes)
    return codes()[0]


@pytest.mark.skipif(shutil.which("npx") is None, reason="node is not installed")
def test_openapi_typescript_accepts_the_document(document_file, tmp_path):
    npx = shutil.which("npx")
    assert npx is not None
    result = subprocess.run(  # noqa: S603
        [npx, "--yes", "openapi-typescript@7", str(document_file), "-o", str(tmp_path / "a.ts")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "warn" not in (result.stdout + result.stderr).casefold(), result.stdout
    assert "export interface operations" in (tmp_path / "a.ts").read_text()
