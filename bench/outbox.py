"""Outbox drain: 10,000 pending messages delivered to a local fake notification service by
relays that run as `events-face worker` processes, as replicas would.

    ./scripts/uv run python -m bench.outbox [--messages 10000] [--relays 2]
        [--database-url URL] [--concurrency 10] [--batch-size 100]

Each relay is a process of its own: a process runs one event loop on one core at a time, so two
relays in one process would share a core and measure one relay's throughput twice. The relays
start first and wait; the messages are then written in one transaction, whose commit the
outbox's trigger announces on PostgreSQL (the relays poll only every minute there, so that the
wake-up is what starts them). Prints messages per second; then, ten times, the time from the
commit of a single message to its arrival at the fake (the relays are warm by then); and a
relay's peak RSS. The fake runs as a process of its own too. The database defaults to a
temporary SQLite file (where the relays poll every 50 ms); a PostgreSQL database must be named
like `…bench` or `…bench<digits>`, and its outbox is emptied.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import delete, func, insert, select

from app.core.database import Database, create_engine
from app.core.migrations import upgrade_to_head
from app.outbox.models import OutboxMessage, OutboxStatus
from bench.system import high_water_mib, machine, require_bench_database, stop
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-key-that-is-long-enough-0123"  # noqa: S105
WAKE_UPS = 10


async def wait_for_fake(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(100):
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise SystemExit("the fake notification service did not start")


def start_relay(args: argparse.Namespace, database_url: str, base_url: str) -> subprocess.Popen:
    poll = "0.05" if database_url.startswith("sqlite") else "60"
    environment = os.environ | {
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": SECRET,
        "NOTIFICATIONS_URL": f"{base_url}/api/notifications",
        "EVENTS_PROVIDER_URL": "https://events.example.com/api/events/",  # never called here
        "OUTBOX_BATCH_SIZE": str(args.batch_size),
        "OUTBOX_CONCURRENCY": str(args.concurrency),
        "OUTBOX_POLL_INTERVAL_SECONDS": poll,
        "DATABASE_POOL_SIZE": "4",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=environment)


async def relays_ready(database: Database, relays: int) -> None:
    """Until each relay listens (PostgreSQL), or has had the time to start (SQLite)."""
    if database.dialect != "postgresql":
        await asyncio.sleep(8)
        return
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name LIKE 'listener:%'"
    )
    async with asyncio.timeout(60):
        while True:
            async with database.reading() as connection:
                if (await connection.exec_driver_sql(query)).scalar_one() >= relays:
                    return
            await asyncio.sleep(0.2)


async def seed(database: Database, count: int) -> float:
    """Writes `count` pending messages in one unit of work; returns when it committed."""
    rows = [
        {
            "id": uuid.uuid4(),
            "topic": "bench",
            "payload": {"email": f"v{n}@example.com", "message": f"Ваш код: {n:06d}"},
        }
        for n in range(count)
    ]
    async with database.transaction() as work:
        for start in range(0, count, 1000):
            await work.session.execute(insert(OutboxMessage), rows[start : start + 1000])
    return time.time()


async def pending(database: Database) -> int:
    async with database.reading() as connection:
        query = select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)
        return (await connection.execute(query)).scalar_one()


async def reset_fake(base_url: str) -> None:
    async with httpx.AsyncClient() as http:
        (await http.post(f"{base_url}/_fake/reset")).raise_for_status()


async def first_delivery(base_url: str) -> float:
    async with httpx.AsyncClient(timeout=60) as http:
        received = (await http.get(f"{base_url}/_fake/received")).json()["received"]
    return min(seen["at"] for seen in received)


async def drained(database: Database) -> None:
    while await pending(database):  # noqa: ASYNC110 - the relays are other processes
        await asyncio.sleep(0.01)


async def wake_ups(database: Database, base_url: str, count: int) -> list[float]:
    """Milliseconds from the commit of a single message to its arrival, `count` times over."""
    delays = []
    for _ in range(count):
        await reset_fake(base_url)
        committed = await seed(database, 1)
        await drained(database)
        delays.append((await first_delivery(base_url) - committed) * 1000)
    return delays


async def drain(args: argparse.Namespace, database_url: str, base_url: str) -> None:
    database = Database(create_engine(database_url, pool_size=2))
    async with database.transaction() as work:
        await work.session.execute(delete(OutboxMessage))
    relays = [start_relay(args, database_url, base_url) for _ in range(args.relays)]
    try:
        await relays_ready(database, args.relays)
        started = time.perf_counter()
        await seed(database, args.messages)
        await drained(database)
        elapsed = time.perf_counter() - started
        delays = sorted(await wake_ups(database, base_url, WAKE_UPS))
        peak = max(high_water_mib(relay.pid) for relay in relays)
    finally:
        for relay in relays:
            stop(relay)
    await database.dispose()
    print(
        f"{database.dialect}, {args.relays} relay process(es): {args.messages} messages in "
        f"{elapsed:.2f} s = {args.messages / elapsed:,.0f} messages/s (batch {args.batch_size}, "
        f"concurrency {args.concurrency}); then a single message delivered "
        f"{delays[len(delays) // 2]:.0f} ms after its commit (median of {WAKE_UPS}; at most "
        f"{delays[-1]:.0f}); peak RSS of a relay {peak:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--relays", type=int, default=2)
    parser.add_argument("--database-url")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        database_url = args.database_url or f"sqlite+aiosqlite:///{directory}/bench.db"
        require_bench_database(database_url)
        upgrade_to_head(database_url)
        print(f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {machine()}")
        port = free_port()
        fake = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "fakes.notifications", "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            asyncio.run(wait_for_fake(base_url))
            asyncio.run(drain(args, database_url, base_url))
        finally:
            stop(fake)


if __name__ == "__main__":
    main()
