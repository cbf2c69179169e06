"""Running our console script and servers as real processes."""

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_environment(**variables: str) -> dict[str, str]:
    """The test's environment without our settings, plus `variables`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "JWT_", "ENVIRONMENT", "TEST_"))
    }
    environment["PYTHONPATH"] = str(PROJECT_ROOT)
    environment.update(variables)
    return environment


def service_environment(database_url: str, **variables: str) -> dict[str, str]:
    """A child environment for a served app with no background work unless asked for, and
    that stops at once on SIGTERM unless asked to drain."""
    defaults = {
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": "a-child-process-secret-of-at-least-32-chars",
        "SYNC_INTERVAL_SECONDS": "0",
        "OUTBOX_RELAY_ENABLED": "false",
        # The reminder loop's first round over a bench's 10,000 events had landed inside
        # bench.instructions' counted window (+0.09 M instructions a list request).
        "REMINDERS_BEFORE_SECONDS": "",
        "SHUTDOWN_DRAIN_SECONDS": "0",
        # Never called unless a test serves a fake there and says so.
        "EVENTS_PROVIDER_URL": "https://events.example.com/api/events/",
        "NOTIFICATIONS_URL": "https://notifications.example.com/api/notifications",
    }
    return child_environment(**(defaults | variables))


async def run_cli(
    *args: str, env: Mapping[str, str], cwd: Path, timeout: float = 60.0
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        *args,
        env=dict(env),
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def start_server(environment: Mapping[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    """`events-face serve` (migrations already applied) on a free port; and its base URL."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        "--no-migrate",
        "--port",
        str(port),
        env=dict(environment),
        cwd=PROJECT_ROOT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


async def wait_until_ready(url: str, process: asyncio.subprocess.Process, timeout: float) -> int:
    """Polls `url` until it answers 200; returns the last status (0 when it never answered)."""
    status = 0
    async with httpx.AsyncClient() as http:
        for _ in range(int(timeout * 10)):
            if process.returncode is not None:
                return status
            try:
                status = (await http.get(url)).status_code
            except httpx.TransportError:
                status = 0
            if status == 200:
                return status
            await asyncio.sleep(0.1)
    return status


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


# The two ways SPEC §2 names to serve the app, as `python -m` arguments.
SERVERS = {
    "events-face serve": ("app.cli", "serve", "--no-migrate"),
    "uvicorn app.main:app": ("uvicorn", "app.main:app"),
}


@asynccontextmanager
async def running_server(
    command: str, env: Mapping[str, str], output: Path, cwd: Path = PROJECT_ROOT
) -> AsyncIterator[str]:
    """Serves with one of SERVERS (on a migrated database) until the block ends, writing its
    stdout and stderr to `output`; yields its base URL."""
    port = free_port()
    with output.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            *SERVERS[command],
            "--port",
            str(port),
            env=dict(env),
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            status = await wait_until_ready(f"{base_url}/health/live", process, 60)
            assert status == 200, f"{command} did not start: see {output}"
            yield base_url
        finally:
            await stop(process)
