"""Writing notices into the outbox, operator actions on it, and its gauges."""

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.core.database import UnitOfWork, utcnow
from app.core.last_write import LastWrite
from app.core.metrics import Metrics
from app.core.tracing import current_traceparent
from app.outbox.models import OutboxStatus
from app.outbox.repository import OutboxRepository

logger = logging.getLogger(__name__)

# The namespace of the ids derived from notices' keys (uuid5).
MESSAGE_KEYS = uuid.UUID("6d8f2a4e-3c1b-4b7a-9e5d-0f2c8a1b7e3d")


# What a confirmation code reads as wherever it is kept after its delivery (SPEC §4.7).
MASKED_CODE = "******"


class Recipient(Protocol):
    """Whom a message goes to, and whose account it is about."""

    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def email(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Letter:
    """A message composed, and the write that puts it in the outbox."""

    id: uuid.UUID
    message: LastWrite


# The channel (app.core.listener) that wakes every process's relay once a message is written or
# requeued: the database's own trigger notifies it (migration 0009, PostgreSQL).
OUTBOX_CHANNEL = "outbox"


class Outbox:
    """Puts messages in the outbox in the caller's unit of work, so that a message exists if
    and only if the change it announces does; once that unit of work commits, this process's
    relay is woken at once, and on PostgreSQL every other process's too (the outbox's trigger
    NOTIFYs them with the commit)."""

    def __init__(self, work: UnitOfWork, relay_wake: asyncio.Event) -> None:
        self._work = work
        self._relay_wake = relay_wake
        self._messages = OutboxRepository(work.session)

    def compose(
        self,
        topic: str,
        to: Recipient,
        text: str,
        *,
        code: str | None = None,
        key: str | None = None,
    ) -> Letter:
        """A message to `to` about their account `to.user_id`, to `put` — or to hand to the
        unit of work's last writes (`UnitOfWork.commit_with`). A `code` in the text is kept in
        clear only until the message is delivered (or dead): the text kept beside it has it
        masked from the start. With a `key`, the outbox keeps one message per key, whoever puts
        it and however often: the message's id is derived from the key, and a second one is
        not written."""
        message_id = uuid.uuid5(MESSAGE_KEYS, key) if key is not None else uuid.uuid4()
        message = self._messages.new_message(
            message_id,
            topic,
            {"email": to.email, "message": text},
            user_id=to.user_id,
            masked_text=text.replace(code, MASKED_CODE) if code else text,
            traceparent=current_traceparent(),
            unless_exists=key is not None,
        )
        self._work.after_commit(self._relay_wake.set)  # a wake for nothing, if it is not written
        return Letter(message_id, message)

    async def put(self, letter: Letter) -> uuid.UUID:
        """Queues the message; returns its id."""
        await self._messages.add(letter.message)
        return letter.id

    async def status_of(self, message_id: uuid.UUID) -> OutboxStatus | None:
        status = await self._messages.status_of(message_id)
        return OutboxStatus(status) if status is not None else None


class OutboxService:
    def __init__(self, work: UnitOfWork) -> None:
        self.work = work
        self.messages = OutboxRepository(work.session)

    async def requeue_dead(self, ids: Sequence[uuid.UUID] | None = None) -> int:
        """Gives dead messages (all, or those of `ids`) a fresh set of attempts; the relays
        are woken once that commits."""
        count = await self.messages.requeue_dead(ids, utcnow())
        logger.info("outbox: requeued %d dead messages", count)
        return count

    async def refresh_gauges(self, metrics: Metrics) -> None:
        counts = await self.messages.count_by_status()
        metrics.outbox_backlog.set(counts.get(OutboxStatus.PENDING, 0))
        metrics.outbox_dead.set(counts.get(OutboxStatus.DEAD, 0))
