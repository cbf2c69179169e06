"""The sync: its upserts at the database's pace, `sync-events --all` as a whole, and that
command against a bare loop paging a slow provider.

    ./scripts/uv run python -m bench.sync [--events 100000] [--database-url URL]
        [--paced-events 10000] [--page-delay 0.02] [--rounds 2]

1. Upserts: N generated events applied in the sync's batches through `ProviderUpdates.apply`
   (the path of the sync and of the stream), each batch in its unit of work, into an empty
   catalogue (all created), again (all unchanged) and once more a minute newer (all updated).
   Only the units of work are timed (not making or reading the records); the rate of each
   tenth shows whether the cost per event stays flat as the catalogue grows.
2. `events-face sync-events --all`, a process of its own, from a fake provider of N events
   (pages of ten, as the real one) into an empty catalogue, then again (all unchanged): its
   wall time, its run's own time, and its peak RSS.
3. A fake provider of M events that answers each page after `--page-delay`: a bare loop that
   pages it (httpx, follows `next`, decodes the JSON and nothing else) and `sync-events --all`
   from it, alternating; `ratio` is the loop's time over the command's (process start
   included), onto the catalogue of step 2.

The fake providers run as processes of their own (their CPU and memory are not ours). The
database defaults to a temporary SQLite file; a PostgreSQL database must be named like
`…bench` or `…bench<digits>`, and its catalogue is emptied. No ANALYZE is run: with
autovacuum off (as on the project's machines) the planner knows nothing of the tables' size.
"""

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.container import Container, open_container
from app.core.config import load_settings
from app.core.database import create_engine
from app.core.migrations import upgrade_to_head
from app.provider.records import ProviderEvent, read_event
from app.sync.generator import iter_events
from app.sync.service import BATCH_SIZE
from bench.system import high_water_mib, machine, require_bench_database, stop
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-key-that-is-long-enough-0123"  # noqa: S105
# ENVIRONMENT=test wants both URLs; the bench calls only the provider it starts.
NEVER_CALLED_PROVIDER = "https://events.example.com/api/events/"
NEVER_CALLED_NOTIFICATIONS = "https://notifications.example.com/api/notifications"
SLICES = 10


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def start_fake_provider(events: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "fakes.provider", "--generate", str(events)]
    process = subprocess.Popen(  # noqa: S603
        [*command, "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL
    )
    return process, f"http://127.0.0.1:{port}/api/events/"


async def wait_for(url: str, page_delay: float = 0.0) -> None:
    async with httpx.AsyncClient() as http, asyncio.timeout(120):
        while True:
            try:
                if (await http.get(url, params={"changed_at": "2999-01-01"})).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
        behaviour = httpx.URL(url).join("/_fake/behaviour")
        (await http.post(behaviour, json={"delay_seconds": page_delay})).raise_for_status()


async def empty_catalogue(database_url: str) -> None:
    """Empties the catalogue; on PostgreSQL with TRUNCATE, which leaves the tables with no
    pages at all: what the planner then sees is a new database's empty catalogue."""
    tables = ("events", "venues", "sync_runs", "leases")
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608
    await engine.dispose()


def records(count: int, now: datetime, newer_by: timedelta) -> Iterator[ProviderEvent]:
    for record in iter_events(count, seed=1, now=now):
        changed_at = datetime.fromisoformat(record["changed_at"]) + newer_by
        event = read_event(record | {"changed_at": changed_at.isoformat()})
        assert event is not None
        yield event


async def upserts(container: Container, count: int, now: datetime, label: str, newer_by: float):
    """Applies `count` events in the sync's batches; prints events/s overall and per tenth."""
    updates, database = container.provider_updates, container.database
    batch: list[ProviderEvent] = []
    spent = 0.0
    rates: list[float] = []
    slice_size, slice_spent = max(count // SLICES, 1), 0.0
    for number, event in enumerate(records(count, now, timedelta(minutes=newer_by)), 1):
        batch.append(event)
        if len(batch) == BATCH_SIZE or number == count:
            started = time.perf_counter()
            async with database.transaction() as work:
                await updates.apply(work, batch)
            took = time.perf_counter() - started
            spent, slice_spent = spent + took, slice_spent + took
            batch.clear()
        if number % slice_size == 0:
            rates.append(slice_size / slice_spent)
            slice_spent = 0.0
    tenths = " ".join(f"{rate / 1000:.1f}k" for rate in rates)
    print(
        f"  upserts, {label}: {count:,} events in {spent:.1f} s = {count / spent:,.0f} events/s; "
        f"by tenths: {tenths}"
    )


def sync_command(database_url: str, provider_url: str) -> tuple[float, str, float]:
    """Runs `sync-events --all`; its wall time, its summary line and its peak RSS in MiB (read
    from /proc while it runs)."""
    environment = os.environ | {
        "DATABASE_URL": database_url,
        "EVENTS_PROVIDER_URL": provider_url,
        "NOTIFICATIONS_URL": NEVER_CALLED_NOTIFICATIONS,
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": SECRET,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    peak = 0.0
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "sync-events", "--all"],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        while process.poll() is None:
            peak = max(peak, high_water_mib(process.pid))
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        output.seek(0)
        printed = output.read()
    if process.returncode != 0:
        raise SystemExit(f"sync-events failed: {printed}")
    return seconds, printed.strip().splitlines()[-1], peak


async def run_seconds(database_url: str) -> float:
    """How long the latest sync run took by its own record (from its start to its end)."""
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT started_at, finished_at FROM sync_runs ORDER BY id DESC LIMIT 1")
            )
        ).one()
    await engine.dispose()
    started, finished = (datetime.fromisoformat(str(value)) for value in row)
    return (finished - started).total_seconds()


async def bare_loop(url: str) -> tuple[float, int]:
    """Pages the provider as fast as it answers, and does nothing with the events."""
    started = time.perf_counter()
    events = 0
    async with httpx.AsyncClient() as http:
        next_url: Any = url
        while next_url:
            page = (await http.get(next_url)).raise_for_status().json()
            events += len(page["results"])
            next_url = page["next"]
    return time.perf_counter() - started, events


async def step_upserts(args: argparse.Namespace, database_url: str) -> None:
    await empty_catalogue(database_url)
    settings = load_settings(
        database_url=database_url,
        environment="test",
        jwt_secret_key=SECRET,
        events_provider_url=NEVER_CALLED_PROVIDER,
        notifications_url=NEVER_CALLED_NOTIFICATIONS,
    )
    now = datetime.now(UTC)
    async with open_container(settings) as container:
        await upserts(container, args.events, now, "all created", 0)
        await upserts(container, args.events, now, "all unchanged", 0)
        await upserts(container, args.events, now, "all updated", 1)
    print(f"  peak RSS of this process: {peak_rss_mib():.0f} MiB")


async def step_command(args: argparse.Namespace, database_url: str) -> None:
    await empty_catalogue(database_url)
    provider, url = start_fake_provider(args.events)
    try:
        await wait_for(url)
        for label in ("all created", "all unchanged"):
            seconds, line, peak = sync_command(database_url, url)
            own = await run_seconds(database_url)
            print(
                f"  sync-events --all, {label}: {args.events:,} events in {seconds:.1f} s = "
                f"{args.events / seconds:,.0f} events/s (the run itself {own:.1f} s = "
                f"{args.events / own:,.0f} events/s); peak RSS {peak:.0f} MiB\n    {line}"
            )
    finally:
        stop(provider)


async def step_paced(args: argparse.Namespace, database_url: str) -> None:
    provider, url = start_fake_provider(args.paced_events)
    try:
        await wait_for(url, args.page_delay)
        for round_number in range(1, args.rounds + 1):
            bare, events = await bare_loop(url)
            seconds, line, _ = sync_command(database_url, url)
            print(
                f"  round {round_number}: bare loop {events:,} events in {bare:.1f} s "
                f"({events / bare:,.0f} events/s); sync-events --all {seconds:.1f} s "
                f"({args.paced_events / seconds:,.0f} events/s); ratio {bare / seconds:.2f}\n"
                f"    {line}"
            )
    finally:
        stop(provider)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--paced-events", type=int, default=10_000)
    parser.add_argument("--page-delay", type=float, default=0.02)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        database_url = args.database_url or f"sqlite+aiosqlite:///{work}/bench.db"
        require_bench_database(database_url)
        upgrade_to_head(database_url)
        backend = make_url(database_url).get_backend_name()
        print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}; database: {backend}")
        print(f"1. upserts through ProviderUpdates.apply, batches of {BATCH_SIZE}")
        asyncio.run(step_upserts(args, database_url))
        print("2. sync-events --all from a fake provider (pages of ten, no delay)")
        asyncio.run(step_command(args, database_url))
        print(f"3. the same provider answering each page after {args.page_delay * 1000:.0f} ms")
        asyncio.run(step_paced(args, database_url))


if __name__ == "__main__":
    main()
