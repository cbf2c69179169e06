"""The Kafka consumer on a real Kafka-protocol broker (Tansu, tests/support/kafka.py): replicas of
`events-face serve` in the consumer group, real processes on one PostgreSQL database, reading a
topic of three partitions keyed by event id (SPEC §7)."""

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.events.models import Event
from app.provider.records import ProviderEvent
from app.stream.consumer import GROUP
from app.stream.models import ParkedStreamMessage
from app.sync.generator import generate_events
from tests.stream.conftest import eventually
from tests.support.kafka import (
    Change,
    group_members,
    keyed,
    newest,
    publish,
    shuffled_versions,
    version,
)
from tests.support.metrics import sample
from tests.support.processes import service_environment, start_server, stop, wait_until_ready

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgresql_only("the replicas are processes that share one database"),
]

EVENTS = 250
VERSIONS = 4  # changes of each event: 1,000 in all
# A replica killed is out of the group this long after its last heartbeat.
SESSION_TIMEOUT_SECONDS = 3
TAKEOVER_TIMEOUT_SECONDS = 60.0


@dataclass
class Replica:
    """One `events-face serve` consuming the topic, as a container runs it."""

    environment: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    base_url: str = ""

    async def start(self) -> None:
        self.process, self.base_url = await start_server(self.environment)
        status = await wait_until_ready(f"{self.base_url}/health/ready", self.process, 60)
        assert status == 200, "the replica did not start"

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None:
            await stop(self.process)

    async def metric(self, name: str, **labels: str) -> float:
        async with httpx.AsyncClient(base_url=self.base_url) as http:
            return sample((await http.get("/metrics")).text, name, **labels)

    async def handled(self) -> float:
        """Messages this process has applied, skipped or parked since it started."""
        results = ("applied", "skipped", "parked")
        return sum([await self.metric("stream_messages_total", result=r) for r in results])

    async def lag(self) -> float:
        return await self.metric("stream_lag_messages")


@pytest.fixture
async def replicas(
    database_url: str, kafka_broker: str, kafka_topic: str, database
) -> AsyncIterator[Callable[[int], Any]]:
    """Starts replicas on the test's topic, over empty tables; stops them at the end."""
    environment = service_environment(
        database_url,
        BROKER_URL=f"kafka://{kafka_broker}",
        PROVIDER_EVENTS_TOPIC=kafka_topic,
        STREAM_SESSION_TIMEOUT_SECONDS=str(SESSION_TIMEOUT_SECONDS),
        EVENT_RETENTION_DAYS="36500",  # the start-up cleanup must leave past events alone
    )
    started: list[Replica] = []

    async def start(count: int) -> list[Replica]:
        new = [Replica(environment) for _ in range(count)]
        await asyncio.gather(*(replica.start() for replica in new))
        started.extend(new)
        return new

    yield start
    await asyncio.gather(*(replica.stop() for replica in started))


def fields(event: Event | ProviderEvent) -> tuple[object, ...]:
    """What a change sets, as stored and as sent."""
    return (event.name, event.provider_status, event.number_of_visitors, event.changed_at)


def expected(changes: list[Change]) -> dict[uuid.UUID, tuple[object, ...]]:
    return {event_id: fields(event) for event_id, event in newest(changes).items()}


async def stored(database) -> dict[uuid.UUID, tuple[object, ...]]:
    async with database.transaction() as work:
        events = (await work.session.execute(select(Event))).scalars().all()
    return {event.id: fields(event) for event in events}


def holds(database, rows: dict[uuid.UUID, tuple[object, ...]]) -> Callable[[], Any]:
    async def check() -> bool:
        return await stored(database) == rows

    return check


async def parked(database) -> list[ParkedStreamMessage]:
    async with database.transaction() as work:
        return list((await work.session.execute(select(ParkedStreamMessage))).scalars().all())


async def the_group_has(address: str, members: int) -> None:
    async def formed() -> bool:
        return await group_members(address, GROUP) == members

    await eventually(formed, TAKEOVER_TIMEOUT_SECONDS)


async def test_two_replicas_apply_every_change_through_a_kill_and_a_restart(
    kafka_broker, kafka_topic, replicas, database
):
    first, second = await replicas(2)
    await the_group_has(kafka_broker, 2)
    events = generate_events(EVENTS, seed=70)
    changes = shuffled_versions(events, VERSIONS, seed=71)
    half = len(changes) // 2

    await publish(kafka_broker, kafka_topic, keyed(changes[:half]))
    await eventually(first.handled)  # it owns partitions, and is at work on them
    await first.kill()
    await publish(kafka_broker, kafka_topic, keyed(changes[half:]))
    await eventually(holds(database, expected(changes)), TAKEOVER_TIMEOUT_SECONDS)

    await first.start()
    await the_group_has(kafka_broker, 2)
    later = [version(event, VERSIONS) for event in events[:30]]
    await publish(kafka_broker, kafka_topic, keyed(later))
    await eventually(holds(database, expected(changes + later)), TAKEOVER_TIMEOUT_SECONDS)
    # The restarted replica took partitions over and began at the group's committed offsets:
    # it read none of the changes before.
    assert 0 < await first.handled() <= len(later)

    async def caught_up() -> bool:
        return [await first.lag(), await second.lag()] == [0, 0]

    await eventually(caught_up)


async def test_a_poison_message_is_parked_and_its_partition_goes_on(
    kafka_broker, kafka_topic, replicas, database
):
    [replica] = await replicas(1)
    [event] = generate_events(1, seed=72)
    nameless = {**event, "name": ""}
    key = event["id"]
    messages = [
        (key, version(event, 0)),
        (key, b"{not json"),
        (key, nameless),
        (key, version(event, 1)),
    ]
    landed = await publish(kafka_broker, kafka_topic, messages)
    await eventually(holds(database, expected([version(event, 1)])))
    assert sorted((row.position, row.error) for row in await parked(database)) == [
        (f"{landed[1].partition}:{landed[1].offset}", "not JSON"),
        (f"{landed[2].partition}:{landed[2].offset}", "not an event record (SPEC §6)"),
    ]

    async def caught_up() -> bool:
        return await replica.lag() == 0

    await eventually(caught_up)
