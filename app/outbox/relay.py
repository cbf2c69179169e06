"""The outbox relay: delivers outbox messages to the notification service (SPEC §5).

Each round claims a batch of due messages with a lease (one short transaction), sends them
outside any transaction with bounded concurrency, and records the outcomes in one more short
transaction, each only if this relay still holds the lease. 201 and 409 mean delivered; anything
else is retried with exponential backoff and jitter (or after Retry-After) until
OUTBOX_MAX_ATTEMPTS, then the message is dead. A circuit breaker stops the calls while the
service keeps failing. A relay that dies leaves its leases to run out; the messages are
claimed again then, so delivery is at-least-once, keyed by the message id.
"""

import asyncio
import logging
import os
import socket
import time
import uuid
from datetime import datetime, timedelta

import httpx
from opentelemetry.trace import Tracer

from app.core.config import Settings
from app.core.database import Database, utcnow
from app.core.errors import DatabaseUnavailableError
from app.core.metrics import Metrics
from app.core.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    backoff_delay,
)
from app.core.tracing import span
from app.outbox.models import OutboxMessage, OutboxStatus
from app.outbox.repository import OutboxRepository
from app.outbox.service import OutboxService
from app.outbox.transport import SendResult, send_notice

logger = logging.getLogger(__name__)

DELIVERED_PAYLOAD: dict[str, object] = {}  # what a sent message keeps of its payload
MAX_RETRY_DELAY_SECONDS = 600.0
LEASE_MARGIN_SECONDS = 1.0
# While the database cannot be reached, the relay tries again this often.
DATABASE_RETRY_SECONDS = 0.5


def relay_holder() -> str:
    """A name for this relay that no other process or relay shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        http: httpx.AsyncClient,
        settings: Settings,
        metrics: Metrics,
        wake: asyncio.Event,
        tracer: Tracer,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.database = database
        self.http = http
        self.settings = settings
        self.metrics = metrics
        self.wake = wake
        self.tracer = tracer
        self.breaker = breaker or CircuitBreaker("notifications")
        self.holder = relay_holder()
        # A send starts only while its lease outlasts the longest send, so that a lease never
        # runs out (and another relay takes the message) while the send is in flight.
        self._send_margin = settings.notifications_timeout_seconds + LEASE_MARGIN_SECONDS
        self._slots = asyncio.Semaphore(settings.outbox_concurrency)

    async def run(self, stopping: asyncio.Event) -> None:
        """Relays until `stopping` is set: at once while batches come full, else on a wake-up
        (a message written by this process, or by another one: app.core.listener) or every
        OUTBOX_POLL_INTERVAL_SECONDS."""
        logger.info("outbox relay %s started", self.holder)
        while not stopping.is_set():
            self.wake.clear()
            pause = self.breaker_pause()
            if pause:
                await self._wait(stopping, pause)
                continue
            try:
                claimed = await self.relay_batch(stopping)
            except DatabaseUnavailableError:
                logger.warning("outbox relay: the database is unavailable; trying again")
                await self._wait(stopping, DATABASE_RETRY_SECONDS)
                continue
            if claimed < self.settings.outbox_batch_size:
                await self._wait(stopping, self.settings.outbox_poll_interval_seconds)
        logger.info("outbox relay %s stopped", self.holder)

    def breaker_pause(self) -> float:
        """Seconds until the open circuit lets a probe through, else 0."""
        if self.breaker.state is not CircuitState.OPEN:
            return 0.0
        try:
            self.breaker.before_call()
        except CircuitOpenError as error:
            return max(error.retry_in, 0.05)
        return 0.0

    async def _wait(self, stopping: asyncio.Event, seconds: float) -> None:
        waiters = {asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(self.wake.wait())}
        _, pending = await asyncio.wait(waiters, timeout=seconds, return_when="FIRST_COMPLETED")
        for waiter in pending:
            waiter.cancel()

    async def relay_batch(self, stopping: asyncio.Event | None = None) -> int:
        """One round: claims due messages, sends them, records the outcomes in one short
        transaction; returns how many were claimed. Messages not yet sent when `stopping` is
        set, or whose lease is too short for one more send, are released unsent. The gauges
        are refreshed once the relay has caught up (a batch that is not full): they count the
        whole table, which costs more as it grows."""
        limit = 1 if self.breaker.state is CircuitState.HALF_OPEN else None
        messages = await self._claim(limit or self.settings.outbox_batch_size)
        if messages:
            async with asyncio.TaskGroup() as tasks:
                sends = [
                    tasks.create_task(self._deliver(message, stopping)) for message in messages
                ]
            await self._record(
                [(message, send.result()) for message, send in zip(messages, sends, strict=True)]
            )
        if len(messages) < self.settings.outbox_batch_size:
            await self.refresh_gauges()
        return len(messages)

    async def refresh_gauges(self) -> None:
        async with self.database.transaction() as work:
            await OutboxService(work).refresh_gauges(self.metrics)

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        now = utcnow()
        lease_end = now + timedelta(seconds=self.settings.outbox_lease_seconds)
        async with self.database.transaction() as work:
            messages = await OutboxRepository(work.session).claim(
                self.holder, now, lease_end, limit
            )
        for message in messages:
            message.leased_until = lease_end
        return list(messages)

    async def _deliver(
        self, message: OutboxMessage, stopping: asyncio.Event | None
    ) -> SendResult | None:
        """Sends one message; None when it was not sent (and is to be released)."""
        async with self._slots:
            assert message.leased_until is not None
            lease_left = (message.leased_until - utcnow()).total_seconds()
            if (stopping and stopping.is_set()) or lease_left < self._send_margin:
                return None
            try:
                self.breaker.before_call()
            except CircuitOpenError:
                return None
            outcome = await self._send(message)
        if outcome.delivered:
            self.breaker.record_success()
        else:
            self.breaker.record_failure()
        return outcome

    async def _send(self, message: OutboxMessage) -> SendResult:
        """The send continues the trace of the request that wrote the message."""
        attributes = {"outbox.message_id": str(message.id), "outbox.topic": message.topic}
        with span(self.tracer, "outbox send", parent=message.traceparent, attributes=attributes):
            return await send_notice(self.http, self.settings, message.id, message.payload)

    async def _record(self, results: list[tuple[OutboxMessage, SendResult | None]]) -> None:
        """Records the batch's outcomes; while the database cannot be reached, tries again
        for as long as a lease lasts: the sends happened, and a message whose delivery is
        recorded is not sent a second time when its lease runs out."""
        give_up_at = time.monotonic() + self.settings.outbox_lease_seconds
        while True:
            try:
                await self._record_once(results)
                return
            except DatabaseUnavailableError:
                if time.monotonic() > give_up_at:
                    raise
                logger.warning("outbox relay: the database is unavailable; recording again")
                await asyncio.sleep(DATABASE_RETRY_SECONDS)

    async def _record_once(self, results: list[tuple[OutboxMessage, SendResult | None]]) -> None:
        """Applies every outcome of a batch, each only where this relay still holds the
        lease; releases the messages that were not sent."""
        now = utcnow()
        async with self.database.transaction() as work:
            outbox = OutboxRepository(work.session)
            sent = [message.id for message, outcome in results if outcome and outcome.delivered]
            unsent = [message.id for message, outcome in results if outcome is None]
            recorded = await outbox.finish_many(
                sent,
                self.holder,
                status=OutboxStatus.SENT,
                # Delivered: the visitor's email and the code are no longer ours to keep; the
                # text stays as `masked_text` has it, its code masked.
                payload=DELIVERED_PAYLOAD,
                sent_at=now,
                last_error=None,
                attempts=OutboxMessage.attempts + 1,
                updated_at=now,
            )
            await outbox.finish_many(unsent, self.holder, updated_at=now)
            failures = [
                (
                    message,
                    outcome,
                    await outbox.finish_many(
                        [message.id], self.holder, **self._failure_values(message, outcome, now)
                    ),
                )
                for message, outcome in results
                if outcome and not outcome.delivered
            ]
        if recorded < len(sent):
            logger.warning(
                "outbox: %d leases were lost before their sends were recorded", len(sent) - recorded
            )
        self.metrics.outbox_deliveries.labels("sent").inc(recorded)
        for message, outcome, applied in failures:
            if applied:
                self._count_failure(message, outcome)

    def _failure_values(
        self, message: OutboxMessage, outcome: SendResult, now: datetime
    ) -> dict[str, object]:
        attempts = message.attempts + 1
        delay = outcome.retry_after
        if delay is None:
            delay = backoff_delay(
                attempts - 1,
                base=self.settings.outbox_retry_base_seconds,
                cap=MAX_RETRY_DELAY_SECONDS,
            )
        dead = attempts >= self.settings.outbox_max_attempts
        values: dict[str, object] = {
            "status": OutboxStatus.DEAD if dead else OutboxStatus.PENDING,
            "attempts": attempts,
            "next_attempt_at": now + timedelta(seconds=delay),
            "last_error": outcome.error,
            "updated_at": now,
        }
        if dead and message.masked_text is not None:
            # Dead: the code is not ours to keep either (a requeue sends it masked; the
            # visitor asks for a new one).
            values["payload"] = {**message.payload, "message": message.masked_text}
        return values

    def _count_failure(self, message: OutboxMessage, outcome: SendResult) -> None:
        attempts = message.attempts + 1
        if attempts < self.settings.outbox_max_attempts:
            self.metrics.outbox_deliveries.labels("retry").inc()
            return
        # Never the payload: the message text carries the confirmation code.
        logger.error(
            "outbox: message %s (%s) is dead after %d attempts: %s",
            message.id,
            message.topic,
            attempts,
            outcome.error,
        )
        self.metrics.outbox_deliveries.labels("dead").inc()
