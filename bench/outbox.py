"""Outbox drain: 10,000 pending messages delivered to a local fake notification service.

    ./scripts/uv run python -m bench.outbox [--messages 10000] [--database-url URL]
        [--concurrency 10] [--batch-size 100]

The fake runs as a separate process (so that its CPU is not ours). The database defaults to
a temporary SQLite file; a PostgreSQL URL must name a database whose name ends in `bench`,
whose outbox is emptied first. Prints messages per second and peak memory.
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
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from app.container import open_container
from app.core.config import load_settings
from app.core.migrations import upgrade_to_head
from app.jobs import outbox_relay
from app.outbox.models import OutboxMessage, OutboxStatus
from app.outbox.repository import OutboxRepository
from tests.support.notifications import new_ids, seed_messages
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[1]


async def wait_for_fake(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(100):
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise SystemExit("the fake notification service did not start")


async def drain(args: argparse.Namespace, database_url: str, base_url: str) -> None:
    settings = load_settings(
        database_url=database_url,
        environment="test",
        jwt_secret_key="bench-secret-key-that-is-long-enough-0123",  # noqa: S106
        events_provider_url="https://events.example.com/api/events/",  # never called here
        notifications_url=f"{base_url}/api/notifications",
        outbox_batch_size=args.batch_size,
        outbox_concurrency=args.concurrency,
        outbox_poll_interval_seconds=0.05,
    )
    async with open_container(settings) as container:
        database = container.database
        async with database.transaction() as work:
            await work.session.execute(delete(OutboxMessage))
        await seed_messages(database, new_ids(args.messages))
        stopping = asyncio.Event()
        relay = outbox_relay(container)
        started = time.perf_counter()
        task = asyncio.create_task(relay.run(stopping))
        while True:
            async with database.transaction() as work:
                counts = await OutboxRepository(work.session).count_by_status()
            if not counts.get(OutboxStatus.PENDING):
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        stopping.set()
        await task
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{database.dialect}: {args.messages} messages in {elapsed:.2f}s = "
        f"{args.messages / elapsed:.0f} messages/s (batch {args.batch_size}, "
        f"concurrency {args.concurrency}); sent {counts.get(OutboxStatus.SENT, 0)}, "
        f"dead {counts.get(OutboxStatus.DEAD, 0)}; peak RSS {peak:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--database-url")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        database_url = args.database_url or f"sqlite+aiosqlite:///{directory}/bench.db"
        if database_url.startswith("postgresql") and not str(
            make_url(database_url).database
        ).endswith("bench"):
            raise SystemExit("a PostgreSQL database for the benchmark must end in 'bench'")
        upgrade_to_head(database_url)
        port = free_port()
        fake = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "fakes.notifications", "--port", str(port)], cwd=ROOT
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            asyncio.run(wait_for_fake(base_url))
            asyncio.run(drain(args, database_url, base_url))
        finally:
            fake.terminate()
            fake.wait()


if __name__ == "__main__":
    main()
