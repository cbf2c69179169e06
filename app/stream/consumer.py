"""The broker side of the stream: FastStream subscribers on PROVIDER_EVENTS_TOPIC in consumer
group `events-face`, the broker chosen by BROKER_URL's scheme (docs/stream-consumer.md).

A message is acknowledged (on Kafka, its offset committed) only once StreamService.handle has
returned, after the database commit; a handler that raises (a transient database error) nacks
it instead, so that a crash or an outage between the two replays the message rather than
losing it, and the upsert makes the replay harmless."""

import asyncio
import logging
import math
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from faststream import AckPolicy, Context
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.redis import RedisBroker, StreamSub
from redis.asyncio import Redis

from app.core.config import Settings
from app.core.metrics import Metrics
from app.stream.service import Delivery, RetryLaterError, StreamService

logger = logging.getLogger(__name__)

GROUP = "events-face"
GRACEFUL_TIMEOUT_SECONDS = 5.0
RECLAIM_POLL_MILLISECONDS = 1000
# Entries read at a time from the stream (Redis hands over all it has, otherwise): each waits,
# pending, for those read before it, so a backlog read at once would go idle past
# STREAM_RECLAIM_IDLE_SECONDS and be taken again by the reclaiming subscriber, still queued here.
READ_BATCH = 100
LAG_TIMEOUT_SECONDS = 1.0

# In-flight messages get this long to finish on stop; FastStream's per-message lines are DEBUG.
_BROKER_OPTIONS: dict[str, Any] = {
    "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
    "log_level": logging.DEBUG,
    "logger": logger,
}

Message = Annotated[StreamMessage[Any], Context("message")]
Position = Callable[[Any], str]
Lag = Callable[[], Awaitable[int | None]]
Leave = Callable[[], Awaitable[None]]


def _subscriber_handler(
    service: StreamService, topic: str, position: Position
) -> Callable[[Message], Awaitable[None]]:
    async def handle(message: Message) -> None:
        try:
            delivery = Delivery(
                topic,
                position(message.raw_message),
                message.body,
                message.headers.get("traceparent"),
            )
            await service.handle(delivery)
        except RetryLaterError:
            raise NackMessage() from None  # already logged, without FastStream's traceback

    return handle


def _kafka_position(record: Any) -> str:
    return f"{record.partition}:{record.offset}"


def _redis_position(raw: Any) -> str:
    return b",".join(raw["message_ids"]).decode()


def consumer_name() -> str:
    """Unique per process: a replica that dies leaves its pending entries to be reclaimed."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class StreamConsumer:
    """A started-on-demand broker with its subscribers, and how to ask it for the lag."""

    def __init__(
        self, broker: KafkaBroker | RedisBroker, lag: Lag, leave: Leave | None = None
    ) -> None:
        self.broker = broker
        self._lag = lag
        self._leave = leave

    async def observe_lag(self, metrics: Metrics) -> None:
        """Sets the lag gauge from what the broker tells, NaN when it tells nothing."""
        try:
            async with asyncio.timeout(LAG_TIMEOUT_SECONDS):
                lag = await self._lag()
        except Exception as error:
            logger.warning("stream: lag unknown (%s)", type(error).__name__)
            lag = None
        metrics.stream_lag.set(math.nan if lag is None else lag)

    async def run(self, stopping: asyncio.Event) -> None:
        """Consumes until `stopping` is set; messages in flight finish (or are nacked)."""
        try:
            await self.broker.start()
            logger.info("stream consumer started")
            await stopping.wait()
        finally:
            await self.broker.stop()
            await self._leave_the_group()
            logger.info("stream consumer stopped")

    async def _leave_the_group(self) -> None:
        if self._leave is None:
            return
        try:
            await self._leave()
        except Exception as error:  # a stop never fails for it: the name merely stays listed
            logger.warning("stream: could not leave the group (%s)", type(error).__name__)


def kafka_consumer(settings: Settings, service: StreamService) -> StreamConsumer:
    topic = settings.provider_events_topic
    broker = KafkaBroker(urlsplit(settings.broker_url).netloc.split(","), **_BROKER_OPTIONS)
    session_timeout_ms = int(settings.stream_session_timeout_seconds * 1000)
    subscriber = broker.subscriber(
        topic,
        group_id=GROUP,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        session_timeout_ms=session_timeout_ms,
        # Kafka's advice: heartbeats at a third of the session timeout at most.
        heartbeat_interval_ms=session_timeout_ms // 3,
    )
    subscriber(_subscriber_handler(service, topic, _kafka_position))

    async def lag() -> int | None:
        """Sum over the assigned partitions of the high watermark less our position."""
        consumer = subscriber.consumer
        if consumer is None:
            return None
        total = 0
        for partition in consumer.assignment():
            highwater = consumer.highwater(partition)
            if highwater is None:
                return None
            total += highwater - await consumer.position(partition)
        return total

    return StreamConsumer(broker, lag)


def redis_consumer(settings: Settings, service: StreamService) -> StreamConsumer:
    """Two subscribers in the group: one reads new entries, the other takes over entries that
    some consumer (a replica that died, or a nack) left unacknowledged for
    STREAM_RECLAIM_IDLE_SECONDS."""
    topic = settings.provider_events_topic
    broker = RedisBroker(settings.broker_url, **_BROKER_OPTIONS)
    name = consumer_name()
    handler = _subscriber_handler(service, topic, _redis_position)
    new_entries = StreamSub(topic, group=GROUP, consumer=name, max_records=READ_BATCH)
    abandoned_entries = StreamSub(
        topic,
        group=GROUP,
        consumer=name,
        min_idle_time=int(settings.stream_reclaim_idle_seconds * 1000),
        polling_interval=RECLAIM_POLL_MILLISECONDS,
    )
    for stream in (new_entries, abandoned_entries):
        broker.subscriber(stream=stream, ack_policy=AckPolicy.NACK_ON_ERROR)(handler)

    async def lag() -> int | None:
        """Entries of the stream not yet delivered to the group (Redis 7+ reports it)."""
        client = await broker.connect()
        for group in await client.xinfo_groups(topic):
            if group["name"] in (GROUP, GROUP.encode()):
                return group.get("lag")
        return None

    async def leave() -> None:
        """Once the broker has stopped (nothing in flight), a consumer with no entry pending
        leaves the group, so that restarts do not pile names up in it (each process has its
        own); one with entries pending stays, for another replica to reclaim them."""
        client = Redis.from_url(settings.broker_url)
        try:
            mine = await client.xpending_range(
                topic, GROUP, min="-", max="+", count=1, consumername=name
            )
            if not mine:
                await client.xgroup_delconsumer(topic, GROUP, name)
        finally:
            await client.aclose()

    return StreamConsumer(broker, lag, leave)


def create_stream_consumer(settings: Settings, service: StreamService) -> StreamConsumer | None:
    """The consumer BROKER_URL names, or None when it is empty (the consumer is off)."""
    if not settings.broker_url:
        return None
    if settings.broker_url.startswith("kafka://"):
        return kafka_consumer(settings, service)
    return redis_consumer(settings, service)
