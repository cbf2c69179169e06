import uuid
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import rowcount
from app.idempotency.models import IdempotencyKey


class IdempotencyKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID, key: str) -> IdempotencyKey | None:
        return await self.session.get(IdempotencyKey, (user_id, key))

    async def add(self, record: IdempotencyKey) -> None:
        """Flushes at once: a concurrent request under the same key fails here."""
        self.session.add(record)
        await self.session.flush()

    async def delete(self, record: IdempotencyKey) -> None:
        await self.session.delete(record)
        await self.session.flush()

    async def delete_for_user(self, user_id: uuid.UUID) -> int:
        """Forgets the user's replayable responses (they repeat names and addresses)."""
        result = await self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.user_id == user_id)
        )
        return rowcount(result)

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now)
        )
        return rowcount(result)
