"""What the container image runs: the built wheel in a fresh virtual environment, then
`events-face migrate` and `events-face serve` answering /health/ready."""

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.support.processes import (
    PROJECT_ROOT,
    child_environment,
    free_port,
    stop,
    wait_until_ready,
)

pytestmark = pytest.mark.slow


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv") or str(PROJECT_ROOT / ".tools/bin/uv")
    if not Path(found).exists():
        pytest.skip("uv is not installed")
    return found


async def _run(*command: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, output.decode()
    return output.decode()


@pytest.fixture(scope="module")
async def installed_wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    uv = _uv()
    await _run(uv, "build", "--wheel", "--out-dir", str(work / "dist"), cwd=PROJECT_ROOT)
    wheel = next((work / "dist").glob("events_face-*.whl"))
    venv = work / "venv"
    await _run(uv, "venv", "--quiet", "--python", sys.executable, str(venv))
    await _run(uv, "pip", "install", "--quiet", "--python", str(venv / "bin/python"), str(wheel))
    return venv / "bin"


async def test_the_installed_wheel_migrates_and_serves(installed_wheel, tmp_path):
    port = free_port()
    env = child_environment(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'image.db'}",
        ENVIRONMENT="production",
        JWT_SECRET_KEY="a-production-secret-of-at-least-32-chars",
        TICKET_SIGNING_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        EVENTS_PROVIDER_URL="https://events.example.com/api/events/",
        NOTIFICATIONS_URL="https://notifications.example.com/api/notifications",
        SYNC_INTERVAL_SECONDS="0",
        OUTBOX_RELAY_ENABLED="false",
        SHUTDOWN_DRAIN_SECONDS="0",
    )
    env.pop("PYTHONPATH")  # only the installed package, not the source tree

    await _run(str(installed_wheel / "events-face"), "migrate", env=env, cwd=tmp_path)
    server = await asyncio.create_subprocess_exec(
        str(installed_wheel / "events-face"),
        "serve",
        "--no-migrate",
        "--port",
        str(port),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        status = await wait_until_ready(f"http://127.0.0.1:{port}/health/ready", server, 60)
    finally:
        await stop(server)

    assert status == 200
