"""The Kafka path, through FastStream's in-memory TestKafkaBroker, on both databases: the same
subscriber and handler the app builds for a kafka:// BROKER_URL. A real broker, the group and
its offsets: test_kafka_replicas.py."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer
from sqlalchemy import select

from app.core.database import Database, create_engine
from app.core.metrics import Metrics
from app.core.telemetry import Tracing
from app.core.tracing import NO_TRACER
from app.events.models import Event
from app.flows import ProviderUpdates
from app.registrations.lifecycle import surroundings_for
from app.stream.consumer import create_stream_consumer
from app.stream.models import ParkedStreamMessage
from app.stream.service import Outcome, StreamService
from app.sync.generator import generate_events
from tests.conftest import make_settings
from tests.support.metrics import sample

TOPIC = "events-provider.events"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PRODUCER_SPAN_ID = "b7ad6b7169203331"
TRACED = {"traceparent": f"00-{TRACE_ID}-{PRODUCER_SPAN_ID}-01"}


@dataclass
class Kafka:
    broker: KafkaBroker
    metrics: Metrics

    def counted(self, result: str) -> float:
        return sample(self.metrics.render().decode(), "stream_messages_total", result=result)


@asynccontextmanager
async def kafka_for(
    database_url: str, database, tracer: Tracer = NO_TRACER
) -> AsyncIterator[Kafka]:
    settings = make_settings(database_url, broker_url="kafka://kafka-1:9092,kafka-2:9092")
    metrics = Metrics()
    updates = ProviderUpdates(surroundings_for(settings, database, asyncio.Event(), metrics))
    service = StreamService(database, updates, metrics, tracer)
    consumer = create_stream_consumer(settings, service)
    assert consumer is not None
    async with TestKafkaBroker(consumer.broker) as broker:
        yield Kafka(broker, metrics)


@pytest.fixture
async def kafka(database_url, database) -> AsyncIterator[Kafka]:
    async with kafka_for(database_url, database) as running:
        yield running


async def stored_names(database) -> dict[str, str]:
    async with database.transaction() as work:
        events = (await work.session.execute(select(Event))).scalars().all()
    return {str(event.id): event.name for event in events}


async def test_a_message_is_applied_and_an_older_one_skipped(kafka, database):
    old, new = generate_events(2, seed=7)
    new = {**new, "id": old["id"], "name": "newer"}
    old = {**old, "changed_at": "2020-01-01T00:00:00+00:00"}
    await kafka.broker.publish(new, TOPIC)
    await kafka.broker.publish(old, TOPIC)
    assert await stored_names(database) == {new["id"]: "newer"}
    assert (kafka.counted("applied"), kafka.counted("skipped")) == (1, 1)


async def test_a_message_continues_the_trace_its_traceparent_header_names(database_url, database):
    exporter = InMemorySpanExporter()
    tracing = Tracing(exporter)
    tracing.instrument_engine(database.engine)
    async with kafka_for(database_url, database, tracing.tracer) as kafka:
        await kafka.broker.publish(generate_events(1, seed=10)[0], TOPIC, headers=TRACED)
        await kafka.broker.publish(generate_events(1, seed=11)[0], TOPIC)
    tracing.close()
    traced, untraced = [s for s in exporter.get_finished_spans() if s.name == f"{TOPIC} process"]

    assert f"{traced.context.trace_id:032x}" == TRACE_ID
    assert f"{traced.parent.span_id:016x}" == PRODUCER_SPAN_ID
    assert traced.attributes["messaging.message.position"] == "0:0"
    assert untraced.parent is None
    assert untraced.context.trace_id != traced.context.trace_id
    assert any(
        s.parent and s.parent.span_id == traced.context.span_id
        for s in exporter.get_finished_spans()
    )


async def test_an_unreadable_message_is_parked_with_its_offset(kafka, database):
    await kafka.broker.publish(b"\xff not json", TOPIC)
    [good] = generate_events(1, seed=8)
    await kafka.broker.publish(good, TOPIC)
    async with database.transaction() as work:
        [parked] = (await work.session.execute(select(ParkedStreamMessage))).scalars().all()
    assert (parked.topic, parked.position, parked.error) == (TOPIC, "0:0", "not JSON")
    assert parked.payload == "\ufffd not json"
    assert list(await stored_names(database)) == [good["id"]]
    assert (kafka.counted("parked"), kafka.counted("applied")) == (1, 1)


async def test_a_database_outage_nacks_instead_of_parking(unreachable_database_url):
    unreachable = Database(create_engine(unreachable_database_url))
    async with kafka_for(unreachable_database_url, unreachable) as kafka:
        await kafka.broker.publish(generate_events(1, seed=9)[0], TOPIC)
        assert all(kafka.counted(kind) == 0 for kind in Outcome)
    await unreachable.dispose()
