import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import Upsert, dialect_name, insert_upsert, rowcount, utcnow
from app.core.last_write import LastWrite
from app.outbox.models import OutboxMessage, OutboxStatus

OUTBOX = OutboxMessage.__table__
# What a notice gives its message; the other columns start as every message's do.
MESSAGE_FIELDS = ("id", "topic", "payload", "user_id", "masked_text", "traceparent")


@cache
def _add_message(dialect: str, unless_exists: bool) -> Upsert:
    """A Core INSERT of one message, every column with a default given its value, built once:
    every notice is one, an ORM insert built anew each time took the ORM's bulk path and a new
    cache key, and a message may travel with the COMMIT (`LastWrite`), where no default is
    computed."""
    now = bindparam("now", type_=OUTBOX.c.created_at.type)
    statement = insert_upsert(dialect, OUTBOX).values(
        {
            **{name: bindparam(name, type_=OUTBOX.c[name].type) for name in MESSAGE_FIELDS},
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
    )
    return (
        statement.on_conflict_do_nothing(index_elements=[OUTBOX.c.id])
        if unless_exists
        else statement
    )


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def new_message(
        self,
        message_id: uuid.UUID,
        topic: str,
        payload: dict[str, Any],
        *,
        user_id: uuid.UUID | None,
        masked_text: str,
        traceparent: str | None,
        unless_exists: bool = False,
    ) -> LastWrite:
        """The write of the message; with `unless_exists`, it writes only if no message has
        its id yet."""
        statement = _add_message(dialect_name(self.session), unless_exists)
        values = {
            "id": message_id,
            "topic": topic,
            "payload": payload,
            "user_id": user_id,
            "masked_text": masked_text,
            "traceparent": traceparent,
            "now": utcnow(),
        }
        return LastWrite(statement, values)

    async def add(self, message: LastWrite) -> None:
        await self.session.execute(message.statement, message.values)

    async def status_of(self, message_id: uuid.UUID) -> str | None:
        return await self.session.scalar(
            select(OutboxMessage.status).where(OutboxMessage.id == message_id)
        )

    async def claim(
        self, holder: str, now: datetime, leased_until: datetime, limit: int
    ) -> Sequence[OutboxMessage]:
        """Leases up to `limit` due messages to `holder`. On PostgreSQL, rows another
        transaction is claiming are skipped (SKIP LOCKED); SQLite has no row locks, and its
        BEGIN IMMEDIATE makes concurrent claims wait for each other instead."""
        due = (
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < now),
            )
            .order_by(OutboxMessage.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        messages = (await self.session.scalars(due)).all()
        if messages:
            await self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([message.id for message in messages]))
                .values(lease_holder=holder, leased_until=leased_until, updated_at=now)
            )
        return messages

    async def finish_many(
        self, message_ids: Sequence[uuid.UUID], holder: str, **values: Any
    ) -> int:
        """Applies the outcome of sends, and releases their leases, where `holder` still
        holds them; returns how many it applied to (a lease may have been lost)."""
        if not message_ids:
            return 0
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.lease_holder == holder)
            .values(lease_holder=None, leased_until=None, **values)
        )
        return rowcount(result)

    async def for_user(self, user_id: uuid.UUID) -> Sequence[OutboxMessage]:
        """The notices about the user's registrations and waiting entries, oldest first."""
        rows = await self.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.user_id == user_id)
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
        return rows.all()

    async def forget_user(self, user_id: uuid.UUID, now: datetime) -> tuple[int, int]:
        """The user's notices not delivered (pending, dead) are deleted: no relay can claim
        them any more (one that claimed one already finds it gone when it records the send).
        The delivered ones lose their text. Returns how many of each."""
        dropped = await self.session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.user_id == user_id, OutboxMessage.status != OutboxStatus.SENT
            )
        )
        forgotten = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.user_id == user_id, OutboxMessage.masked_text.is_not(None))
            .values(masked_text=None, payload={}, updated_at=now)
        )
        return rowcount(dropped), rowcount(forgotten)

    async def count_by_status(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status: count for status, count in rows}

    async def requeue_dead(self, ids: Sequence[uuid.UUID] | None, now: datetime) -> int:
        """Dead messages (all of them, or those of `ids`) become pending with no attempts."""
        statement = update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.DEAD)
        if ids is not None:
            statement = statement.where(OutboxMessage.id.in_(ids))
        result = await self.session.execute(
            statement.values(
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                last_error=None,
                updated_at=now,
            )
        )
        return rowcount(result)
