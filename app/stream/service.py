"""Applying the provider's change stream: each message is one event record (SPEC §6), upserted
in one transaction exactly as the sync upserts it, so that a redelivered, duplicate or
out-of-order message (one whose `changed_at` is not newer than the stored one) changes nothing.

A message that cannot be read or applied is parked in `parked_stream_messages` and counted, so
that the stream moves on. A database that does not answer is not the message's fault: that
error propagates, the message is not acknowledged, and the broker delivers it again."""

import asyncio
import json
import logging
from dataclasses import dataclass
from enum import StrEnum

from opentelemetry.trace import SpanKind, Tracer

from app.core.database import Database, is_transient
from app.core.metrics import Metrics
from app.core.tracing import span
from app.flows import ProviderUpdates
from app.provider.records import ProviderEvent, read_event
from app.stream.repository import ParkedMessageRepository

logger = logging.getLogger(__name__)

TRANSIENT_PAUSE_SECONDS = 1.0


class Outcome(StrEnum):
    APPLIED = "applied"
    SKIPPED = "skipped"
    PARKED = "parked"


@dataclass(frozen=True)
class Delivery:
    """One message as the broker handed it: `position` is its Kafka `partition:offset` or
    its Redis Streams entry id, what a log line or a parked row needs to find it again."""

    topic: str
    position: str
    payload: bytes
    traceparent: str | None  # the W3C trace context of the producer, from the headers


class UnreadableMessageError(Exception):
    pass


class RetryLaterError(Exception):
    """The message was not applied for a reason of the moment: do not acknowledge it."""


def read_delivery(payload: bytes) -> ProviderEvent:
    try:
        record = json.loads(payload)
    except ValueError:
        raise UnreadableMessageError("not JSON") from None
    event = read_event(record)
    if event is None:
        raise UnreadableMessageError("not an event record (SPEC §6)")
    return event


def _describe(error: Exception) -> str:
    if isinstance(error, UnreadableMessageError):
        return str(error)
    return f"{type(error).__name__}: {error}"


class StreamService:
    def __init__(
        self, database: Database, updates: ProviderUpdates, metrics: Metrics, tracer: Tracer
    ) -> None:
        self._database = database
        self._updates = updates
        self._metrics = metrics
        self._tracer = tracer

    async def handle(self, delivery: Delivery) -> Outcome:
        """Applies or parks the message; raises RetryLaterError (after a pause) when the
        database failed, which the caller answers by not acknowledging the message. A span
        of the producer's trace when the message carries one, else a trace of its own."""
        attributes = {
            "messaging.destination.name": delivery.topic,
            "messaging.message.position": delivery.position,
        }
        with span(
            self._tracer,
            f"{delivery.topic} process",
            parent=delivery.traceparent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ):
            return await self._handle(delivery)

    async def _handle(self, delivery: Delivery) -> Outcome:
        try:
            outcome = await self._apply(read_delivery(delivery.payload))
        except Exception as error:
            if is_transient(error):
                logger.warning(
                    "stream: %s at %s not applied, will come again: %s",
                    delivery.topic,
                    delivery.position,
                    type(error).__name__,
                )
                await asyncio.sleep(TRANSIENT_PAUSE_SECONDS)
                raise RetryLaterError(type(error).__name__) from error
            outcome = await self._park(delivery, error)
        self._metrics.stream_messages.labels(outcome).inc()
        return outcome

    async def _apply(self, event: ProviderEvent) -> Outcome:
        async with self._database.transaction() as work:
            counts = await self._updates.apply(work, [event])
        return Outcome.SKIPPED if counts.unchanged else Outcome.APPLIED

    async def _park(self, delivery: Delivery, error: Exception) -> Outcome:
        reason = _describe(error)
        log = logger.warning if isinstance(error, UnreadableMessageError) else logger.error
        log("stream: parked %s at %s: %s", delivery.topic, delivery.position, reason[:200])
        async with self._database.transaction() as work:
            ParkedMessageRepository(work.session).park(
                delivery.topic,
                delivery.position,
                delivery.payload.decode(errors="replace"),
                reason,
            )
        return Outcome.PARKED
