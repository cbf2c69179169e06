"""What the chaos scenarios share: their database, the processes they start and stop, the
faults they cause to PostgreSQL, and the tables they print."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.migrations import upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/chaos"
POSTGRES_CLUSTER = os.environ.get("CHAOS_POSTGRES_CLUSTER", "main")


def database_url() -> str:
    url = os.environ.get("CHAOS_DATABASE_URL", DEFAULT_DATABASE_URL)
    if not str(make_url(url).database).endswith("chaos"):
        raise SystemExit("CHAOS_DATABASE_URL must name a database whose name ends in 'chaos'")
    return url


async def admin_execute(url: str, statement: str, **values: object) -> object:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(statement), values)
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def recreate_database(url: str) -> None:
    name = make_url(url).database
    server = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    await admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin_execute(server, f'CREATE DATABASE "{name}"')
    await asyncio.to_thread(upgrade_to_head, url)


def postgres_version() -> str:
    versions = sorted(Path("/etc/postgresql").iterdir(), key=lambda path: int(path.name))
    return versions[-1].name


def restart_postgres() -> None:
    """Restarts the local PostgreSQL cluster and returns once it accepts connections."""
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", postgres_version()]
    subprocess.run([*command, POSTGRES_CLUSTER, "restart"], check=True)  # noqa: S603
    for _ in range(300):
        ready = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False)  # noqa: S607
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    raise SystemExit("PostgreSQL did not come back within 30 s")


def events_face(*args: str, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The events-face command of this checkout, its output appended to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "app.cli", *args],
            env=dict(env),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_until_answers(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer 200 within {timeout} s")


def markdown_table(header: list[str], alignments: str, rows: list[list[str]]) -> str:
    """`alignments`: one character a column, `l` or `r`."""
    rule = "|" + "".join("---|" if side == "l" else "---:|" for side in alignments)
    return "\n".join([_markdown_row(header), rule, *map(_markdown_row, rows)])


def _markdown_row(cells: list[str]) -> str:
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"
