"""Sync of a large fake events-provider: events per second and peak memory.

    ./scripts/uv run python -m bench.sync [--events 100000] [--database-url URL]

The fake provider runs as a separate process (so that its memory and CPU are not ours) and
serves generated events in pages of ten, as the real one does. The database defaults to a
temporary SQLite file; a PostgreSQL URL must name a database whose name ends in `bench`,
whose events are deleted first.
"""

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.container import open_container
from app.core.config import load_settings
from app.core.database import create_engine
from app.core.migrations import upgrade_to_head
from app.sync.service import SyncMode, SyncService
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def start_fake_provider(events: int, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "fakes.provider", "--generate", str(events)]
    return subprocess.Popen([*command, "--port", str(port)], cwd=ROOT)  # noqa: S603


async def wait_for(url: str) -> None:
    async with httpx.AsyncClient() as http, asyncio.timeout(120):
        while True:
            try:
                if (await http.get(url, params={"changed_at": "2999-01-01"})).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)


async def empty_catalogue(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        return
    if not (make_url(database_url).database or "").endswith("bench"):
        raise SystemExit(
            "refusing to empty a PostgreSQL database whose name does not end in 'bench'"
        )
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(text("TRUNCATE events, venues, sync_runs, leases CASCADE"))
    await engine.dispose()


async def timed_run(service: SyncService) -> tuple[float, object]:
    started = time.perf_counter()
    run = await service.run(SyncMode.ALL)
    return time.perf_counter() - started, run


async def bench(events: int, database_url: str, provider_url: str) -> None:
    await empty_catalogue(database_url)
    settings = load_settings(
        database_url=database_url,
        environment="test",
        jwt_secret_key="bench-secret-key-that-is-long-enough-0123",  # noqa: S106
        events_provider_url=provider_url,
        notifications_url="https://notifications.example.com/api/notifications",  # never called
    )
    async with open_container(settings) as container:
        print(f"peak RSS before the first run: {peak_rss_mib():.0f} MiB")
        for label in ("first full sync (all created)", "second full sync (all unchanged)"):
            seconds, run = await timed_run(container.sync)
            print(
                f"{label}: {events} events in {seconds:.1f} s = {events / seconds:,.0f} events/s; "
                f"run: created={run.created} updated={run.updated} unchanged={run.unchanged} "
                f"status={run.status}; peak RSS {peak_rss_mib():.0f} MiB"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        database_url = args.database_url or f"sqlite+aiosqlite:///{work}/bench.db"
        upgrade_to_head(database_url)
        port = free_port()
        provider = start_fake_provider(args.events, port)
        try:
            provider_url = f"http://127.0.0.1:{port}/api/events/"
            asyncio.run(wait_for(provider_url))
            backend = make_url(database_url).get_backend_name()
            print(f"database: {backend}; provider: {args.events} events")
            asyncio.run(bench(args.events, database_url, provider_url))
        finally:
            provider.terminate()
            provider.wait()


if __name__ == "__main__":
    main()
